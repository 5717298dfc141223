using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace AdCtr.Server.Metrics;

internal enum PrometheusType
{
    Counter,
    Gauge,
    Histogram,
}

internal enum Aggregation
{
    LongSum,
    DoubleSum,
    LastValue,
    Histogram,
}

/// <summary>One exported instrument: how it maps to a Prometheus family, and its series.</summary>
internal sealed class InstrumentState
{
    private static readonly TagSet OverflowTags = new([new KeyValuePair<string, object?>("otel_metric_overflow", "true")]);

    private readonly SeriesMap<MetricSeries> _series = new();
    private readonly PrometheusExporter _owner;
    private readonly int _maxSeries;
    private readonly double[] _bounds;
    private readonly Lock _createLock = new();
    private MetricSeries? _noTags;
    private MetricSeries? _overflow;
    private int _seriesCount;

    public InstrumentState(PrometheusExporter owner, Instrument instrument, string familyName, PrometheusType type, Aggregation aggregation, bool observable, PrometheusUnit unit, double[]? bounds, int maxSeries)
    {
        _owner = owner;
        Instrument = instrument;
        FamilyName = familyName;
        Type = type;
        Aggregation = aggregation;
        IsObservable = observable;
        Unit = unit;
        _bounds = bounds ?? [];
        _maxSeries = maxSeries;
        Help = string.IsNullOrWhiteSpace(instrument.Description) ? instrument.Name : instrument.Description;
    }

    public Instrument Instrument { get; }

    public string FamilyName { get; }

    public string Help { get; }

    public PrometheusType Type { get; }

    public Aggregation Aggregation { get; }

    public bool IsObservable { get; }

    public PrometheusUnit Unit { get; }

    public void Record(long value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (IsObservable)
        {
            ((LastValueSeries)GetSeries(tags)).Observe(value, _owner.Generation);
            return;
        }

        if (Type == PrometheusType.Counter && value < 0)
        {
            return; // a counter only goes up; OpenTelemetry SDKs drop negative increments too
        }

        GetSeries(tags).Record(value);
    }

    public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (IsObservable)
        {
            ((LastValueSeries)GetSeries(tags)).Observe(value, _owner.Generation);
            return;
        }

        if (Type == PrometheusType.Counter && !(value >= 0))
        {
            return;
        }

        GetSeries(tags).Record(value);
    }

    private MetricSeries GetSeries(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (tags.Length == 0)
        {
            return _noTags ?? CreateNoTags();
        }

        var sorted = TagSetComparer.Sort(tags);
        return _series.TryGet(sorted, out var series) ? series! : AddSeries(sorted);
    }

    private MetricSeries CreateNoTags()
    {
        lock (_createLock)
        {
            return _noTags ??= Create(TagSet.Empty);
        }
    }

    private MetricSeries AddSeries(ReadOnlySpan<KeyValuePair<string, object?>> sortedTags)
    {
        if (Interlocked.Increment(ref _seriesCount) > _maxSeries)
        {
            Interlocked.Decrement(ref _seriesCount);
            if (_overflow is { } overflow)
            {
                return overflow;
            }

            lock (_createLock)
            {
                return _overflow ??= Create(OverflowTags);
            }
        }

        var tags = new TagSet(sortedTags.ToArray());
        var created = Create(tags);
        var actual = _series.GetOrAdd(tags, created);
        if (!ReferenceEquals(actual, created))
        {
            Interlocked.Decrement(ref _seriesCount); // another thread added it first
        }

        return actual;
    }

    private MetricSeries Create(TagSet tags) => Aggregation switch
    {
        Aggregation.LongSum => new LongSumSeries(tags),
        Aggregation.DoubleSum => new DoubleSumSeries(tags),
        Aggregation.LastValue => new LastValueSeries(tags),
        _ => new HistogramSeries(tags, _bounds),
    };

    /// <summary>Appends the family (HELP, TYPE, samples sorted by label text); nothing when it has no series.</summary>
    public void Write(StringBuilder builder, long generation)
    {
        var rows = new List<(string Labels, MetricSeries Series)>();
        foreach (var (tags, series) in _series.Snapshot())
        {
            if (IsObservable && ((LastValueSeries)series).Generation != generation)
            {
                // Not reported by the callback in this collection: the series is gone.
                if (_series.TryRemove(tags))
                {
                    Interlocked.Decrement(ref _seriesCount);
                }

                continue;
            }

            rows.Add((RenderLabels(tags), series));
        }

        AddUnkeyed(rows, _noTags, generation);
        AddUnkeyed(rows, _overflow, generation);
        if (rows.Count == 0)
        {
            return;
        }

        rows.Sort(static (a, b) => string.CompareOrdinal(a.Labels, b.Labels));
        builder.Append("# HELP ").Append(FamilyName).Append(' ');
        PrometheusNaming.AppendEscapedHelp(builder, Help);
        builder.Append('\n');
        builder.Append("# TYPE ").Append(FamilyName).Append(' ').Append(Type switch
        {
            PrometheusType.Counter => "counter",
            PrometheusType.Gauge => "gauge",
            _ => "histogram",
        }).Append('\n');

        Span<long> counts = Aggregation == Aggregation.Histogram ? new long[_bounds.Length + 1] : [];
        foreach (var (labels, series) in rows)
        {
            switch (series)
            {
                case LongSumSeries sum when Unit.Multiply == 1 && Unit.Divide == 1:
                    AppendSample(builder, FamilyName, "", labels, sum.Read().ToString(CultureInfo.InvariantCulture));
                    break;
                case LongSumSeries sum:
                    AppendSample(builder, FamilyName, "", labels, PrometheusNaming.FormatDouble(Unit.Convert(sum.Read())));
                    break;
                case DoubleSumSeries sum:
                    AppendSample(builder, FamilyName, "", labels, PrometheusNaming.FormatDouble(Unit.Convert(sum.Read())));
                    break;
                case LastValueSeries last:
                    AppendSample(builder, FamilyName, "", labels, PrometheusNaming.FormatDouble(Unit.Convert(last.Read())));
                    break;
                case HistogramSeries histogram:
                    WriteHistogram(builder, labels, histogram, counts);
                    break;
            }
        }
    }

    private void AddUnkeyed(List<(string Labels, MetricSeries Series)> rows, MetricSeries? series, long generation)
    {
        if (series is null || (IsObservable && ((LastValueSeries)series).Generation != generation))
        {
            return;
        }

        rows.Add((RenderLabels(series.Tags), series));
    }

    private void WriteHistogram(StringBuilder builder, string labels, HistogramSeries histogram, Span<long> counts)
    {
        var sum = histogram.Read(counts);
        long cumulative = 0;
        var prefix = labels.Length == 0 ? "" : labels + ",";
        for (var b = 0; b <= _bounds.Length; b++)
        {
            cumulative += counts[b];
            var le = b < _bounds.Length ? PrometheusNaming.FormatDouble(Unit.Convert(_bounds[b])) : "+Inf";
            AppendSample(builder, FamilyName, "_bucket", prefix + "le=\"" + le + "\"", cumulative.ToString(CultureInfo.InvariantCulture));
        }

        AppendSample(builder, FamilyName, "_sum", labels, PrometheusNaming.FormatDouble(Unit.Convert(sum)));
        AppendSample(builder, FamilyName, "_count", labels, cumulative.ToString(CultureInfo.InvariantCulture));
    }

    private static void AppendSample(StringBuilder builder, string family, string suffix, string labels, string value)
    {
        builder.Append(family).Append(suffix);
        if (labels.Length > 0)
        {
            builder.Append('{').Append(labels).Append('}');
        }

        builder.Append(' ').Append(value).Append('\n');
    }

    /// <summary><c>k1="v1",k2="v2"</c> with sanitized names (a name repeated after sanitizing keeps its first value).</summary>
    private string RenderLabels(TagSet tags)
    {
        if (tags.Tags.Length == 0)
        {
            return "";
        }

        var builder = new StringBuilder();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var tag in tags.Tags)
        {
            var name = PrometheusNaming.Sanitize(tag.Key);
            if (Type == PrometheusType.Histogram && name == "le")
            {
                name = "le_"; // "le" is the bucket label
            }

            if (!seen.Add(name))
            {
                continue;
            }

            if (builder.Length > 0)
            {
                builder.Append(',');
            }

            builder.Append(name).Append("=\"");
            PrometheusNaming.AppendEscapedLabelValue(builder, PrometheusNaming.LabelValue(tag.Value));
            builder.Append('"');
        }

        return builder.ToString();
    }
}
