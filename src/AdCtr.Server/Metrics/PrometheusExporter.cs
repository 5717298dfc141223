using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Text;

namespace AdCtr.Server.Metrics;

/// <summary>
/// Prometheus text exposition (format 0.0.4) of <see cref="System.Diagnostics.Metrics"/> instruments, collected
/// with a <see cref="MeterListener"/> (prometheus-net cannot be restored here).
/// </summary>
/// <remarks>
/// <para>Mapping: Counter and ObservableCounter are <c>counter</c> families named <c>..._total</c>; UpDownCounter,
/// ObservableUpDownCounter, Gauge and ObservableGauge are <c>gauge</c>; Histogram is <c>histogram</c> with the
/// bucket bounds the instrument advises (<see cref="InstrumentAdvice{T}.HistogramBucketBoundaries"/>) or a default set
/// (seconds-scaled for unit <c>s</c>, else OpenTelemetry's defaults). Names are snake_case with the base unit as
/// suffix (<c>s</c> seconds, <c>By</c> bytes; <c>ms</c> and other time units are converted to seconds and byte
/// multiples to bytes, values and bucket bounds alike), tags become labels, series are sorted by label text.</para>
/// <para>Recording is lock-free and allocation-free for a label set already seen: tags are sorted into a
/// per-thread buffer and looked up without allocating; sums and bucket counts are per-processor stripes on their
/// own cache lines, updated with <see cref="Interlocked"/>. Observable instruments are read at each scrape; a
/// series an observable callback stops reporting disappears. Collection is serialised; recording goes on meanwhile.</para>
/// <para>Two instruments that map to the same family name: the first published is exported, later ones are ignored.
/// Meter- and instrument-level tags (<see cref="Instrument.Tags"/>) are not exported; only measurement tags are.</para>
/// </remarks>
public sealed class PrometheusExporter : IDisposable
{
    /// <summary>Content type of the exposition.</summary>
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    /// <summary>The runtime's built-in meter (.NET 9 and later).</summary>
    public const string RuntimeMeterName = "System.Runtime";

    /// <summary>
    /// Instruments the runtime declares as ObservableCounter although their value goes down (current thread count
    /// and queue length); exported as gauges so that <c>rate()</c> is never applied to them.
    /// </summary>
    private static readonly HashSet<string> RuntimeGauges = new(StringComparer.Ordinal)
    {
        "dotnet.thread_pool.thread.count",
        "dotnet.thread_pool.queue.length",
    };

    private static readonly double[] DefaultSecondsBounds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    private static readonly double[] DefaultBounds = [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000];

    private readonly MeterListener _listener;
    private readonly ConcurrentDictionary<string, InstrumentState> _families = new(StringComparer.Ordinal);
    private readonly string[] _prefixes;
    private readonly bool _includeRuntime;
    private readonly int _maxSeries;
    private readonly Lock _collectLock = new();
    private long _generation;

    private readonly object? _scope;

    public PrometheusExporter(PrometheusExporterOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxSeriesPerInstrument, 1);
        _prefixes = [.. options.MeterPrefixes];
        _scope = options.Scope;
        _includeRuntime = options.IncludeRuntimeMeter;
        _maxSeries = options.MaxSeriesPerInstrument;
        _listener = new MeterListener
        {
            InstrumentPublished = OnInstrumentPublished,
            MeasurementsCompleted = OnMeasurementsCompleted,
        };
        _listener.SetMeasurementEventCallback<long>(static (_, value, tags, state) => ((InstrumentState)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<int>(static (_, value, tags, state) => ((InstrumentState)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<short>(static (_, value, tags, state) => ((InstrumentState)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<byte>(static (_, value, tags, state) => ((InstrumentState)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<double>(static (_, value, tags, state) => ((InstrumentState)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<float>(static (_, value, tags, state) => ((InstrumentState)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<decimal>(static (_, value, tags, state) => ((InstrumentState)state!).Record((double)value, tags));
        _listener.Start();
    }

    /// <summary>Collection counter; observable measurements are stamped with it.</summary>
    internal long Generation => Volatile.Read(ref _generation);

    /// <summary>Collects and writes the exposition as UTF-8 to <paramref name="output"/>.</summary>
    public Task WriteToAsync(Stream output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(output);
        var bytes = Encoding.UTF8.GetBytes(Collect());
        return output.WriteAsync(bytes, cancellationToken).AsTask();
    }

    /// <summary>Collects and writes the exposition to <paramref name="writer"/>.</summary>
    public void WriteTo(TextWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(Collect());
    }

    /// <summary>Collects the exposition as text.</summary>
    public string Collect()
    {
        lock (_collectLock)
        {
            var generation = Interlocked.Increment(ref _generation);
            _listener.RecordObservableInstruments();
            var states = _families.Values.ToArray();
            Array.Sort(states, static (a, b) => string.CompareOrdinal(a.FamilyName, b.FamilyName));
            var builder = new StringBuilder(4096);
            foreach (var state in states)
            {
                state.Write(builder, generation);
            }

            return builder.ToString();
        }
    }

    public void Dispose() => _listener.Dispose();

    private bool Matches(Meter meter)
    {
        if (_includeRuntime && meter.Name == RuntimeMeterName)
        {
            return true;
        }

        if (_scope is not null && !ReferenceEquals(meter.Scope, _scope))
        {
            return false;
        }

        foreach (var prefix in _prefixes)
        {
            if (meter.Name.StartsWith(prefix, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    private void OnInstrumentPublished(Instrument instrument, MeterListener listener)
    {
        if (!Matches(instrument.Meter) || !instrument.GetType().IsGenericType)
        {
            return;
        }

        var definition = instrument.GetType().GetGenericTypeDefinition();
        var valueType = instrument.GetType().GetGenericArguments()[0];
        var integral = valueType == typeof(long) || valueType == typeof(int) || valueType == typeof(short) || valueType == typeof(byte);
        PrometheusType type;
        Aggregation aggregation;
        var observable = false;
        if (definition == typeof(Counter<>))
        {
            (type, aggregation) = (PrometheusType.Counter, integral ? Aggregation.LongSum : Aggregation.DoubleSum);
        }
        else if (definition == typeof(UpDownCounter<>))
        {
            (type, aggregation) = (PrometheusType.Gauge, integral ? Aggregation.LongSum : Aggregation.DoubleSum);
        }
        else if (definition == typeof(Histogram<>))
        {
            (type, aggregation) = (PrometheusType.Histogram, Aggregation.Histogram);
        }
        else if (definition == typeof(Gauge<>))
        {
            (type, aggregation) = (PrometheusType.Gauge, Aggregation.LastValue);
        }
        else if (definition == typeof(ObservableCounter<>))
        {
            var gauge = instrument.Meter.Name == RuntimeMeterName && RuntimeGauges.Contains(instrument.Name);
            (type, aggregation, observable) = (gauge ? PrometheusType.Gauge : PrometheusType.Counter, Aggregation.LastValue, true);
        }
        else if (definition == typeof(ObservableUpDownCounter<>) || definition == typeof(ObservableGauge<>))
        {
            (type, aggregation, observable) = (PrometheusType.Gauge, Aggregation.LastValue, true);
        }
        else
        {
            return;
        }

        var unit = PrometheusNaming.MapUnit(instrument.Unit, type == PrometheusType.Gauge);
        var family = PrometheusNaming.FamilyName(instrument.Name, unit.Suffix, type == PrometheusType.Counter, type == PrometheusType.Histogram);
        double[]? bounds = null;
        if (type == PrometheusType.Histogram)
        {
            bounds = AdvisedBounds(instrument) ?? (unit.Suffix == "seconds" && unit.Divide == 1 && unit.Multiply == 1 ? DefaultSecondsBounds : DefaultBounds);
        }

        var state = new InstrumentState(this, instrument, family, type, aggregation, observable, unit, bounds, _maxSeries);
        if (_families.TryAdd(family, state))
        {
            listener.EnableMeasurementEvents(instrument, state);
        }
    }

    private void OnMeasurementsCompleted(Instrument instrument, object? state)
    {
        if (state is InstrumentState instrumentState)
        {
            _families.TryRemove(new KeyValuePair<string, InstrumentState>(instrumentState.FamilyName, instrumentState));
        }
    }

    private static double[]? AdvisedBounds(Instrument instrument) => instrument switch
    {
        Instrument<double> d => ToBounds(d.Advice?.HistogramBucketBoundaries),
        Instrument<float> f => ToBounds(f.Advice?.HistogramBucketBoundaries),
        Instrument<long> l => ToBounds(l.Advice?.HistogramBucketBoundaries),
        Instrument<int> i => ToBounds(i.Advice?.HistogramBucketBoundaries),
        Instrument<short> s => ToBounds(s.Advice?.HistogramBucketBoundaries),
        Instrument<byte> b => ToBounds(b.Advice?.HistogramBucketBoundaries),
        Instrument<decimal> m => ToBounds(m.Advice?.HistogramBucketBoundaries),
        _ => null,
    };

    /// <summary>Finite bounds in increasing order (InstrumentAdvice already requires them distinct and ascending).</summary>
    private static double[]? ToBounds<T>(IReadOnlyList<T>? advised)
        where T : struct
    {
        if (advised is null || advised.Count == 0)
        {
            return null;
        }

        var bounds = new List<double>(advised.Count);
        foreach (var value in advised)
        {
            var bound = Convert.ToDouble(value, System.Globalization.CultureInfo.InvariantCulture);
            if (double.IsFinite(bound) && (bounds.Count == 0 || bound > bounds[^1]))
            {
                bounds.Add(bound);
            }
        }

        return bounds.Count == 0 ? null : [.. bounds];
    }
}
