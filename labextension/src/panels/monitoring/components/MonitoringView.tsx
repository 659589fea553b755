import * as React from 'react';

import { MonitoringModel } from '../model';
import { DeploymentList } from './DeploymentList';
import { DriftReportView } from './DriftReport';
import { Events } from './Events';

/** The Monitoring section of the MLOps sidebar. */
export function MonitoringView(props: { model: MonitoringModel }): JSX.Element {
  const { model } = props;
  return (
    <div className="jp-mlops-Monitoring">
      <DeploymentList model={model} />
      <DriftReportView model={model} />
      <Events model={model} />
    </div>
  );
}
