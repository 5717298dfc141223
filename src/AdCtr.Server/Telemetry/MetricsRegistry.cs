using System.Diagnostics.Metrics;
using Prometheus;

namespace AdCtr.Server.Telemetry;

/// <summary>
/// The metrics of one server: its own prometheus-net <see cref="CollectorRegistry"/> (never the process-wide
/// default one, so that several servers in one process, as in the tests, never export each other's figures),
/// the factory the server's instruments are made with, prometheus-net's process collectors
/// (<see cref="DotNetStats"/>: <c>process_*</c>, <c>dotnet_collection_count_total</c>) and a
/// <see cref="MeterBridge"/> for the .NET runtime's and Orleans' System.Diagnostics.Metrics meters.
/// </summary>
internal sealed class MetricsRegistry : IDisposable
{
    /// <summary>The .NET runtime's meter (GC, JIT, thread pool, CPU, working set, exceptions).</summary>
    public const string RuntimeMeter = "System.Runtime";

    /// <summary>Orleans' meters: the name, or a prefix followed by a dot.</summary>
    public const string OrleansMeter = "Microsoft.Orleans";

    private readonly MeterBridge _bridge;

    /// <param name="meterFactory">This server's meter factory: a meter created from another server's factory is
    /// not exported here; a meter without a scope (static, process-wide, like the runtime's) is.</param>
    public MetricsRegistry(IMeterFactory meterFactory)
    {
        Registry = Prometheus.Metrics.NewCustomRegistry();
        var factory = Prometheus.Metrics.WithCustomRegistry(Registry);

        // No exemplars on the server's own instruments: prometheus-net's default reads the current trace context on
        // every increment (adctr_predictions_total on every predict request: 0.3 % of its CPU in a profile), for
        // exemplars that only the OpenMetrics format shows and that nothing here traces for.
        factory.ExemplarBehavior = ExemplarBehavior.NoExemplars();
        Factory = factory;
        DotNetStats.Register(Registry);
        _bridge = new MeterBridge(Registry, instrument => IsExported(instrument.Meter, meterFactory));
    }

    public CollectorRegistry Registry { get; }

    public IMetricFactory Factory { get; }

    /// <summary>True for the runtime's meter, and Orleans' meters of this server (or unscoped).</summary>
    internal static bool IsExported(Meter meter, IMeterFactory scope)
    {
        if (meter.Scope is not null && !ReferenceEquals(meter.Scope, scope))
        {
            return false;
        }

        var name = meter.Name;
        return name == RuntimeMeter
            || name == OrleansMeter
            || (name.StartsWith(OrleansMeter, StringComparison.Ordinal) && name.Length > OrleansMeter.Length && name[OrleansMeter.Length] == '.');
    }

    public void Dispose() => _bridge.Dispose();
}
