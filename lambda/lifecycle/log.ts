/*
 * Structured JSON log lines (one per decision, with its reason) and CloudWatch Embedded Metric Format lines.
 * Plain console.log: Lambda ships stdout to CloudWatch Logs, which extracts EMF metrics from the lines.
 */

import { METRIC_DIMENSION, METRIC_NAMESPACE, MetricName } from '../../lib/contract';

export { METRIC_NAMESPACE, MetricName };

export type Level = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

export type Sink = (line: string) => void;

/** One value of a multi-metric line. */
export interface MetricValue {
  readonly name: MetricName;
  readonly value: number;
  readonly unit: 'Count' | 'Seconds' | 'None' | 'Bytes' | 'Percent';
}

export class Logger {
  constructor(
    private readonly fields: Readonly<Record<string, unknown>> = {},
    private readonly sink: Sink = (line) => console.log(line),
  ) {}

  /** A logger whose lines carry these fields too. */
  child(fields: Readonly<Record<string, unknown>>): Logger {
    return new Logger({ ...this.fields, ...fields }, this.sink);
  }

  log(level: Level, message: string, fields: Readonly<Record<string, unknown>> = {}): void {
    this.sink(JSON.stringify({ level, message, ...this.fields, ...fields }));
  }
  info(message: string, fields?: Readonly<Record<string, unknown>>): void {
    this.log('INFO', message, fields);
  }
  warn(message: string, fields?: Readonly<Record<string, unknown>>): void {
    this.log('WARN', message, fields);
  }
  error(message: string, fields?: Readonly<Record<string, unknown>>): void {
    this.log('ERROR', message, fields);
  }

  /** One EMF line carrying several values (dimension AutoScalingGroupName); nothing when `values` is empty. */
  metrics(message: string, values: readonly MetricValue[], groupName: string): void {
    if (values.length === 0) return;
    this.log('INFO', message, {
      _aws: {
        Timestamp: Date.now(),
        CloudWatchMetrics: [
          {
            Namespace: METRIC_NAMESPACE,
            Dimensions: [[METRIC_DIMENSION]],
            Metrics: values.map((v) => ({ Name: v.name, Unit: v.unit })),
          },
        ],
      },
      [METRIC_DIMENSION]: groupName,
      ...Object.fromEntries(values.map((v) => [v.name, v.value])),
    });
  }

  /** One EMF line: the metric `name` with `value` (Count), dimension AutoScalingGroupName. */
  metric(
    name: MetricName,
    value: number,
    groupName: string,
    fields: Readonly<Record<string, unknown>> = {},
    unit: 'Count' | 'Seconds' | 'None' = 'Count',
  ): void {
    this.sink(
      JSON.stringify({
        level: 'INFO',
        message: `metric ${name}`,
        ...this.fields,
        ...fields,
        _aws: {
          Timestamp: Date.now(),
          CloudWatchMetrics: [
            {
              Namespace: METRIC_NAMESPACE,
              Dimensions: [[METRIC_DIMENSION]],
              Metrics: [{ Name: name, Unit: unit }],
            },
          ],
        },
        [METRIC_DIMENSION]: groupName,
        [name]: value,
      }),
    );
  }
}

/** The message of an unknown thrown value. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
