import { type MetricRegistry, MetricReporters, type ServiceBroker } from "moleculer";

/**
 * Moleculer's Prometheus reporter, minus its own HTTP server: the API process serves these lines
 * on its `/metrics` beside the HTTP metrics, so that one scrape target per pod covers both and no
 * second port has to be opened in the chart.
 */
export class InProcessPrometheusReporter extends MetricReporters.Prometheus {
  override init(registry: MetricRegistry): void {
    MetricReporters.Base.prototype.init.call(this, registry);
  }

  override stop(): Promise<void> {
    return Promise.resolve();
  }
}

/** The broker's metrics in Prometheus text format ("" when the broker reports none). */
export function brokerMetricsText(broker: ServiceBroker): string {
  const reporters = (broker.metrics as unknown as { reporter?: unknown[] }).reporter ?? [];
  const reporter = reporters.find((r) => r instanceof InProcessPrometheusReporter);
  return reporter ? reporter.generatePrometheusResponse() : "";
}
