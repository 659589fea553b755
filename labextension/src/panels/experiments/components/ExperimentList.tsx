import * as React from 'react';

import { ExperimentsModel } from '../model';
import { Empty, ErrorMessage, Loading } from '../../../components/status';

/** The experiments of the workspace; clicking one shows its runs. */
export function ExperimentList(props: {
  model: ExperimentsModel;
}): JSX.Element {
  const { model } = props;
  if (model.experimentsStatus === 'error' && model.experimentsError) {
    return (
      <ErrorMessage
        title="Cannot list experiments"
        error={model.experimentsError}
        onRetry={() => void model.refresh()}
      />
    );
  }
  if (model.experiments.length === 0) {
    if (model.experimentsStatus === 'ready') {
      return (
        <Empty>
          No experiments yet. Log a run with MLflow (or <code>%mlops</code>) and
          refresh.
        </Empty>
      );
    }
    return <Loading label="Loading experiments…" />;
  }
  return (
    <ul
      className="jp-mlops-ExperimentList"
      role="listbox"
      aria-label="Experiments"
    >
      {model.experiments.map(experiment => {
        const selected = experiment.experiment_id === model.experimentId;
        return (
          <li
            key={experiment.experiment_id}
            role="option"
            aria-selected={selected}
            className={
              'jp-mlops-ExperimentList-item' +
              (selected ? ' jp-mod-selected' : '')
            }
            title={`Experiment ${experiment.experiment_id}${
              experiment.artifact_location
                ? `\n${experiment.artifact_location}`
                : ''
            }`}
            tabIndex={0}
            onClick={() =>
              void model.selectExperiment(experiment.experiment_id)
            }
            onKeyDown={event => {
              if (event.key === 'Enter' || event.key === ' ') {
                event.preventDefault();
                void model.selectExperiment(experiment.experiment_id);
              }
            }}
          >
            <span className="jp-mlops-ExperimentList-name">
              {experiment.name}
            </span>
            <span className="jp-mlops-ExperimentList-id">
              #{experiment.experiment_id}
            </span>
          </li>
        );
      })}
    </ul>
  );
}
