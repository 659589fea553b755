import * as React from 'react';

import { JobsModel } from '../model';
import { JobList } from './JobList';
import { SubmitForm } from './SubmitForm';

/** The Jobs section of the MLOps sidebar. */
export function JobsView(props: {
  model: JobsModel;
  onOpenNotebook: (path: string) => void;
}): JSX.Element {
  const { model, onOpenNotebook } = props;
  return (
    <div className="jp-mlops-Jobs">
      <SubmitForm model={model} />
      <JobList model={model} onOpenNotebook={onOpenNotebook} />
    </div>
  );
}
