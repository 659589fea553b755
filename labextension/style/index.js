import './base.css';
import './features.css';
import './models.css';
import './monitoring.css';
import './jobs.css';
import './abtest.css';
import './runs.css';
