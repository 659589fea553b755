import * as React from 'react';

import { JobsModel } from '../model';
import { ISweepGroup } from '../sweeps';
import { JobList } from './JobList';
import { SubmitForm } from './SubmitForm';

/** The Jobs section of the MLOps sidebar. */
export function JobsView(props: {
  model: JobsModel;
  onOpenNotebook: (path: string) => void;
  onCompare: (sweep: ISweepGroup) => void;
}): JSX.Element {
  const { model, onOpenNotebook, onCompare } = props;
  return (
    <div className="jp-mlops-Jobs">
      <SubmitForm model={model} />
      <JobList
        model={model}
        onOpenNotebook={onOpenNotebook}
        onCompare={onCompare}
      />
    </div>
  );
}
