import * as React from 'react';

import { Empty, ErrorMessage, Loading } from '../../../components/status';
import { MonitoringModel } from '../model';
import { formatStatistic, when } from './format';

/** The most events listed (the newest). */
export const MAX_EVENTS = 50;

/** Alert events of every deployment, newest first: fired and resolved. */
export function Events(props: { model: MonitoringModel }): JSX.Element {
  const { model } = props;
  const events = model.events;
  let body: JSX.Element;
  if (
    model.eventsStatus === 'error' &&
    model.eventsError &&
    events.length === 0
  ) {
    body = (
      <ErrorMessage
        title="Cannot read the events"
        error={model.eventsError}
        onRetry={() => void model.refresh()}
      />
    );
  } else if (events.length === 0) {
    body =
      model.eventsStatus === 'ready' ? (
        <Empty>No alerts yet.</Empty>
      ) : (
        <Loading label="Loading events…" />
      );
  } else {
    body = (
      <ul className="jp-mlops-EventList" aria-label="Alert events">
        {events.slice(0, MAX_EVENTS).map(e => {
          const time = when(e.time);
          return (
            <li
              key={e.id}
              className={`jp-mlops-Event jp-mlops-Event--${e.state}`}
              data-event-kind={e.kind}
              data-event-state={e.state}
              data-deployment={e.deployment}
              title={
                e.value !== null && e.value !== undefined
                  ? `${e.kind}: ${formatStatistic(e.value)} against ${formatStatistic(e.threshold)}, window ${e.window.label}`
                  : `${e.kind}, window ${e.window.label}`
              }
            >
              <div className="jp-mlops-Event-header">
                <span
                  className={`jp-mlops-Badge jp-mlops-EventState jp-mlops-EventState--${e.state}`}
                >
                  {e.state}
                </span>
                <span className="jp-mlops-Event-deployment">
                  {e.deployment}
                </span>
                <span className="jp-mlops-Event-kind">
                  {e.kind.replace('_', ' ')}
                  {e.subject ? ` · ${e.subject}` : ''}
                </span>
                <span className="jp-mlops-Event-time" title={time.full}>
                  {time.human}
                </span>
              </div>
              <div className="jp-mlops-Event-message">{e.message}</div>
            </li>
          );
        })}
      </ul>
    );
  }
  return (
    <section className="jp-mlops-Events" aria-label="Events">
      <div className="jp-mlops-Models-heading">
        <span>
          Events{' '}
          {events.length > 0 && (
            <span className="jp-mlops-muted">
              {events.filter(e => e.state === 'firing').length} fired,{' '}
              {events.filter(e => e.state === 'resolved').length} resolved
            </span>
          )}
        </span>
      </div>
      {body}
    </section>
  );
}
