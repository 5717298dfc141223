namespace AdCtr.Server.Metrics;

/// <summary>What the <see cref="PrometheusExporter"/> listens to.</summary>
public sealed class PrometheusExporterOptions
{
    /// <summary>Instruments of meters whose name starts with one of these (ordinal) are exported. Default <c>AdCtr</c>.</summary>
    public IReadOnlyList<string> MeterPrefixes { get; set; } = ["AdCtr"];

    /// <summary>
    /// When set, only meters whose <see cref="System.Diagnostics.Metrics.Meter.Scope"/> is this object are exported
    /// (the server passes its own <see cref="System.Diagnostics.Metrics.IMeterFactory"/>, so two servers in one process
    /// never export each other's instruments). The runtime meter is process-wide and always matches.
    /// </summary>
    public object? Scope { get; set; }

    /// <summary>Also export the runtime's built-in <c>System.Runtime</c> meter (GC, JIT, thread pool, CPU, working set). Default true.</summary>
    public bool IncludeRuntimeMeter { get; set; } = true;

    /// <summary>
    /// Largest number of label sets kept per instrument; measurements with further label sets are added to one
    /// overflow series labelled <c>otel_metric_overflow="true"</c>. Default 2000.
    /// </summary>
    public int MaxSeriesPerInstrument { get; set; } = 2000;
}
