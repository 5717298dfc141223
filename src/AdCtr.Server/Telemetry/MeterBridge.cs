using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;
using Prometheus;

namespace AdCtr.Server.Telemetry;

/// <summary>
/// Publishes System.Diagnostics.Metrics instruments of other libraries (the .NET runtime's <c>System.Runtime</c>
/// meter, Orleans' <c>Microsoft.Orleans</c> meters) as prometheus-net metrics of one registry, with Prometheus
/// types and names that pass <c>promtool check metrics</c>. prometheus-net's own <see cref="MeterAdapter"/> is not
/// used: it exports every counter as a gauge, names families <c>meter_instrument</c> without units, and its
/// output fails promtool's lint (e.g. a gauge <c>system_runtime_dotnet_assembly_count</c>). Here:
/// <list type="bullet">
/// <item><c>Counter&lt;T&gt;</c> and <c>ObservableCounter&lt;T&gt;</c> become counters named <c>..._total</c>
/// (incremented, or raised to the observed cumulative value); every other kind becomes a gauge, and histograms
/// histograms with the instrument's advised bucket bounds (else defaults in the instrument's unit).</item>
/// <item>Names: the instrument name in snake case, then the unit in base units (<c>s</c> <c>_seconds</c>,
/// <c>ms</c>/<c>us</c>/<c>ns</c>/<c>min</c>/<c>h</c> converted to seconds, <c>By</c> <c>_bytes</c>); a gauge whose
/// name would end in <c>_count</c>, <c>_sum</c>, <c>_bucket</c> or <c>_total</c> (reserved for histograms and
/// counters) gets <c>_current</c> appended.</item>
/// <item>Tags become labels (names sanitised); their set is fixed by an instrument's first measurement.</item>
/// </list>
/// Observable instruments are read when the registry is collected (a scrape), so nothing runs between scrapes.
/// </summary>
internal sealed class MeterBridge : IDisposable
{
    private static readonly double[] SecondsBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    private static readonly double[] DefaultBuckets = [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000];

    /// <summary>Runtime instruments declared as ObservableCounter that can go down: exported as gauges.</summary>
    private static readonly HashSet<string> DecreasingCounters = new(StringComparer.Ordinal) { "dotnet.thread_pool.thread.count", "dotnet.thread_pool.queue.length" };

    private readonly MeterListener _listener = new();
    private readonly IMetricFactory _factory;
    private readonly Func<Instrument, bool> _filter;
    private readonly ConcurrentDictionary<string, byte> _names = new(StringComparer.Ordinal);
    private volatile bool _disposed;

    /// <param name="registry">Where the metrics go; its collection reads the observable instruments.</param>
    /// <param name="filter">Which instruments to publish (called once per instrument).</param>
    public MeterBridge(CollectorRegistry registry, Func<Instrument, bool> filter)
    {
        _factory = Prometheus.Metrics.WithCustomRegistry(registry);

        // No exemplars: the bridged meters fire per Orleans message, and prometheus-net's default exemplar provider
        // reads the trace context on every increment (1 % of ingestion in a profile), for exemplars that no
        // library measurement here is traced for.
        _factory.ExemplarBehavior = ExemplarBehavior.NoExemplars();
        _filter = filter;
        _listener.InstrumentPublished = OnInstrumentPublished;
        _listener.SetMeasurementEventCallback<byte>(static (i, m, t, s) => ((Binding)s!).Record(m, t));
        _listener.SetMeasurementEventCallback<short>(static (i, m, t, s) => ((Binding)s!).Record(m, t));
        _listener.SetMeasurementEventCallback<int>(static (i, m, t, s) => ((Binding)s!).Record(m, t));
        _listener.SetMeasurementEventCallback<long>(static (i, m, t, s) => ((Binding)s!).Record(m, t));
        _listener.SetMeasurementEventCallback<float>(static (i, m, t, s) => ((Binding)s!).Record(m, t));
        _listener.SetMeasurementEventCallback<double>(static (i, m, t, s) => ((Binding)s!).Record(m, t));
        _listener.SetMeasurementEventCallback<decimal>(static (i, m, t, s) => ((Binding)s!).Record((double)m, t));
        _listener.Start();
        registry.AddBeforeCollectCallback(() =>
        {
            if (!_disposed)
            {
                _listener.RecordObservableInstruments();
            }
        });
    }

    public void Dispose()
    {
        _disposed = true;
        _listener.Dispose();
    }

    /// <summary>The Prometheus family name of an instrument, and the factor that converts its values to base units.</summary>
    internal static (string Name, double Scale) PrometheusName(string instrumentName, string? unit, bool counter)
    {
        var sb = new StringBuilder(instrumentName.Length + 16);
        var previousLower = false;
        foreach (var c in instrumentName)
        {
            if (char.IsAsciiLetterUpper(c))
            {
                if (previousLower)
                {
                    sb.Append('_');
                }

                sb.Append(char.ToLowerInvariant(c));
                previousLower = false;
            }
            else if (char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c))
            {
                sb.Append(c);
                previousLower = true;
            }
            else if (sb.Length > 0 && sb[^1] != '_')
            {
                sb.Append('_');
                previousLower = false;
            }
        }

        while (sb.Length > 0 && sb[^1] == '_')
        {
            sb.Length--;
        }

        if (sb.Length == 0 || char.IsAsciiDigit(sb[0]))
        {
            sb.Insert(0, '_');
        }

        var (suffix, scale) = unit switch
        {
            "s" => ("_seconds", 1.0),
            "ms" => ("_seconds", 1e-3),
            "us" or "\u00b5s" => ("_seconds", 1e-6),
            "ns" => ("_seconds", 1e-9),
            "min" => ("_seconds", 60.0),
            "h" => ("_seconds", 3600.0),
            "By" => ("_bytes", 1.0),
            _ => ("", 1.0),
        };
        var name = sb.ToString();
        if (name.EndsWith("_total", StringComparison.Ordinal))
        {
            name = name[..^"_total".Length];
        }

        if (suffix.Length > 0 && !name.EndsWith(suffix, StringComparison.Ordinal))
        {
            name += suffix;
        }

        if (counter)
        {
            name += "_total";
        }
        else if (name.EndsWith("_count", StringComparison.Ordinal) || name.EndsWith("_sum", StringComparison.Ordinal) || name.EndsWith("_bucket", StringComparison.Ordinal))
        {
            name += "_current";
        }

        return (name, scale);
    }

    internal static string LabelName(string tag)
    {
        var (name, _) = PrometheusName(tag, null, counter: false);
        return name.StartsWith("__", StringComparison.Ordinal) ? "tag" + name : name;
    }

    private void OnInstrumentPublished(Instrument instrument, MeterListener listener)
    {
        if (_disposed || !_filter(instrument))
        {
            return;
        }

        var type = instrument.GetType();
        var generic = type.IsGenericType ? type.GetGenericTypeDefinition() : type;
        Kind kind;
        if (generic == typeof(Counter<>))
        {
            kind = Kind.Counter;
        }
        else if (generic == typeof(ObservableCounter<>))
        {
            kind = DecreasingCounters.Contains(instrument.Name) ? Kind.Gauge : Kind.ObservedCounter;
        }
        else if (generic == typeof(Histogram<>))
        {
            kind = Kind.Histogram;
        }
        else if (generic == typeof(UpDownCounter<>))
        {
            kind = Kind.UpDown;
        }
        else
        {
            kind = Kind.Gauge; // ObservableGauge, ObservableUpDownCounter, Gauge
        }

        var (name, scale) = PrometheusName(instrument.Name, instrument.Unit, kind is Kind.Counter or Kind.ObservedCounter);
        if (!_names.TryAdd(name, 0))
        {
            return; // two instruments mapping to one family (e.g. a meter created twice): the first one is published
        }

        var help = string.IsNullOrWhiteSpace(instrument.Description) ? instrument.Name : instrument.Description;
        var buckets = kind == Kind.Histogram ? Buckets(instrument, scale) : null;
        listener.EnableMeasurementEvents(instrument, new Binding(_factory, kind, name, help, scale, buckets));
    }

    private static double[] Buckets(Instrument instrument, double scale)
    {
        IReadOnlyList<double>? advised = instrument switch
        {
            Histogram<double> d => d.Advice?.HistogramBucketBoundaries,
            Histogram<float> f => f.Advice?.HistogramBucketBoundaries?.Select(static x => (double)x).ToArray(),
            Histogram<long> l => l.Advice?.HistogramBucketBoundaries?.Select(static x => (double)x).ToArray(),
            Histogram<int> i => i.Advice?.HistogramBucketBoundaries?.Select(static x => (double)x).ToArray(),
            _ => null,
        };
        if (advised is { Count: > 0 })
        {
            return advised.Select(b => b * scale).ToArray();
        }

        return instrument.Unit is "s" or "ms" or "us" or "ns" ? SecondsBuckets : DefaultBuckets;
    }

    private enum Kind
    {
        Counter,
        ObservedCounter,
        UpDown,
        Gauge,
        Histogram,
    }

    /// <summary>One instrument's Prometheus family, created at its first measurement (when its tag names are known).</summary>
    private sealed class Binding(IMetricFactory factory, Kind kind, string name, string help, double scale, double[]? buckets)
    {
        private readonly Lock _create = new();
        private string[]? _tagKeys;
        private object? _metric;

        public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            try
            {
                var metric = Volatile.Read(ref _metric) ?? Create(tags);
                var keys = _tagKeys!;
                var scaled = value * scale;
                if (keys.Length == 0)
                {
                    Apply(metric, null, scaled);
                    return;
                }

                var values = new string[keys.Length];
                for (var k = 0; k < keys.Length; k++)
                {
                    values[k] = "";
                    foreach (var tag in tags)
                    {
                        if (string.Equals(tag.Key, keys[k], StringComparison.Ordinal))
                        {
                            values[k] = Convert.ToString(tag.Value, CultureInfo.InvariantCulture) ?? "";
                            break;
                        }
                    }
                }

                Apply(metric, values, scaled);
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException)
            {
                // A measurement must never throw into the instrumented library; a conflicting family is dropped.
                System.Diagnostics.Trace.WriteLine("AdCtr meter bridge: " + name + ": " + e.Message);
            }
        }

        private void Apply(object metric, string[]? labels, double value)
        {
            switch (kind)
            {
                case Kind.Counter:
                    var counter = (Counter)metric;
                    if (value > 0)
                    {
                        if (labels is null)
                        {
                            counter.Inc(value);
                        }
                        else
                        {
                            counter.WithLabels(labels).Inc(value);
                        }
                    }

                    break;
                case Kind.ObservedCounter:
                    var observed = (Counter)metric;
                    if (labels is null)
                    {
                        observed.IncTo(value);
                    }
                    else
                    {
                        observed.WithLabels(labels).IncTo(value);
                    }
                    break;
                case Kind.UpDown:
                    var upDown = (Gauge)metric;
                    if (labels is null)
                    {
                        upDown.Inc(value);
                    }
                    else
                    {
                        upDown.WithLabels(labels).Inc(value);
                    }
                    break;
                case Kind.Gauge:
                    var gauge = (Gauge)metric;
                    if (labels is null)
                    {
                        gauge.Set(value);
                    }
                    else
                    {
                        gauge.WithLabels(labels).Set(value);
                    }
                    break;
                default:
                    var histogram = (Histogram)metric;
                    if (labels is null)
                    {
                        histogram.Observe(value);
                    }
                    else
                    {
                        histogram.WithLabels(labels).Observe(value);
                    }
                    break;
            }
        }

        private object Create(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            lock (_create)
            {
                if (_metric is not null)
                {
                    return _metric;
                }

                var keys = new string[tags.Length];
                for (var i = 0; i < tags.Length; i++)
                {
                    keys[i] = tags[i].Key;
                }

                Array.Sort(keys, StringComparer.Ordinal);
                var labels = keys.Select(LabelName).ToArray();
                object metric = kind switch
                {
                    Kind.Counter or Kind.ObservedCounter => factory.CreateCounter(name, help, labels),
                    Kind.Histogram => factory.CreateHistogram(name, help, labels, new HistogramConfiguration { Buckets = buckets }),
                    _ => factory.CreateGauge(name, help, labels),
                };
                _tagKeys = keys;
                Volatile.Write(ref _metric, metric);
                return metric;
            }
        }
    }
}
