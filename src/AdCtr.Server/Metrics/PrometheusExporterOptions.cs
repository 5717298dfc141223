namespace AdCtr.Server.Metrics;

/// <summary>What the <see cref="PrometheusExporter"/> listens to.</summary>
public sealed class PrometheusExporterOptions
{
    /// <summary>Instruments of meters whose name starts with one of these (ordinal) are exported. Default <c>AdCtr</c>.</summary>
    public IReadOnlyList<string> MeterPrefixes { get; set; } = ["AdCtr"];

    /// <summary>Also export the runtime's built-in <c>System.Runtime</c> meter (GC, JIT, thread pool, CPU, working set). Default true.</summary>
    public bool IncludeRuntimeMeter { get; set; } = true;

    /// <summary>
    /// Largest number of label sets kept per instrument; measurements with further label sets are added to one
    /// overflow series labelled <c>otel_metric_overflow="true"</c>. Default 2000.
    /// </summary>
    public int MaxSeriesPerInstrument { get; set; } = 2000;
}
