import * as React from 'react';

import { ErrorMessage, Loading } from '../../../components/status';
import { ExperimentsModel } from '../model';
import { defaultModelName, RunRegistration } from '../register';

/**
 * Register the one selected run's model: a button, then an inline form asking for the model
 * name (the experiment's name by default). The new version is then shown in the Models section.
 */
export function RegisterBar(props: {
  model: ExperimentsModel;
  registration: RunRegistration;
  onRegistered: (name: string, version: number) => void;
}): JSX.Element | null {
  const { model, registration, onRegistered } = props;
  const selection = model.selection;
  const run = selection.length === 1 ? selection[0] : null;
  const [name, setName] = React.useState('');
  const open = run !== null && registration.runId === run.runId;

  if (run === null) {
    return null;
  }
  if (!open) {
    return (
      <div className="jp-mlops-RegisterBar">
        <button
          type="button"
          className="jp-mlops-Button"
          title={`Register the model logged by ${run.runName} as a new model version`}
          onClick={() => {
            const experiment = model.experiments.find(
              e => e.experiment_id === run.experimentId
            );
            setName(defaultModelName(experiment?.name ?? ''));
            registration.open(run.runId);
          }}
        >
          Register {run.runName}…
        </button>
      </div>
    );
  }
  const busy = registration.status === 'busy';
  const result = registration.result;
  return (
    <div className="jp-mlops-RegisterBar jp-mod-open">
      <form
        className="jp-mlops-RegisterBar-form"
        onSubmit={async event => {
          event.preventDefault();
          const version = await registration.register(name);
          if (version) {
            onRegistered(version.name, version.version);
          }
        }}
      >
        <label className="jp-mlops-Field jp-mlops-Field--grow">
          <span>Register {run.runName} as model</span>
          <input
            type="text"
            className="jp-mlops-FilterBox-input"
            aria-label="Model name"
            spellCheck={false}
            autoFocus
            value={name}
            disabled={busy}
            onChange={event => setName(event.target.value)}
            onKeyDown={event => {
              if (event.key === 'Escape') {
                registration.close();
              }
            }}
          />
        </label>
        <button
          type="submit"
          className="jp-mlops-Button jp-mlops-Button--accept"
          disabled={busy || !name.trim()}
        >
          Register
        </button>
        <button
          type="button"
          className="jp-mlops-Button jp-mlops-Button--link"
          disabled={busy}
          onClick={() => registration.close()}
        >
          {result ? 'Close' : 'Cancel'}
        </button>
      </form>
      {busy && <Loading label="Registering…" />}
      {result && (
        <div className="jp-mlops-Action-done" role="status">
          Registered as {result.name} v{result.version}.{' '}
          <button
            type="button"
            className="jp-mlops-Button jp-mlops-Button--link"
            onClick={() => onRegistered(result.name, result.version)}
          >
            Show in Models
          </button>
        </div>
      )}
      {registration.status === 'error' && registration.error && (
        <ErrorMessage
          title="Cannot register this run"
          error={registration.error}
        />
      )}
    </div>
  );
}
