using AdCtr.Learning.Features;
using AdCtr.Learning.Readers;
using AdCtr.Simulator.World;

namespace AdCtr.Simulator.Compare;

/// <summary>A time-ordered stream of examples for <see cref="CompareRunner"/>.</summary>
public interface ICompareSource : IDisposable
{
    /// <summary>What the stream is (for the report).</summary>
    string Description { get; }

    /// <summary>True when the hours come from the row index (no timestamps in the log).</summary>
    bool RowClock { get; }

    /// <summary>
    /// Reads the next example into <paramref name="row"/>; <paramref name="hours"/> is its time on the stream
    /// clock, <paramref name="truth"/> its true click probability or NaN. False at the end.
    /// </summary>
    bool TryRead(RawRow row, out double hours, out double truth);
}

/// <summary>
/// Turns timestamps into hours since the first example's timestamp floored to the hour, or, when the log has
/// no timestamps, the row index divided by rows-per-hour. Hours never go backwards (a late row keeps the clock).
/// </summary>
internal struct StreamClock(double rowsPerHour)
{
    private const double MsPerHour = 3_600_000.0;
    private long _originMs;
    private long _rows;
    private double _last;
    private bool _started;

    public bool RowClock { get; private set; }

    public double Next(long timestampMs)
    {
        if (!_started)
        {
            _started = true;
            RowClock = timestampMs <= 0;
            _originMs = timestampMs - (((timestampMs % 3_600_000) + 3_600_000) % 3_600_000);
        }

        var hours = RowClock ? _rows / rowsPerHour : (timestampMs - _originMs) / MsPerHour;
        _rows++;
        _last = Math.Max(_last, hours);
        return _last;
    }
}

/// <summary>The examples of a simulated scenario, generated in process (no file), with their true CTR.</summary>
public sealed class ScenarioSource : ICompareSource
{
    private readonly IEnumerator<ExampleRecord> _examples;
    private readonly long _limit;
    private readonly int[] _sourceOf;
    private StreamClock _clock = new(1);
    private long _read;

    /// <summary>Maps the spec's fields by name to the record: campaignId, adId, advertiserId, the context and feature fields.</summary>
    public ScenarioSource(AdWorld world, FeatureSpec spec, long events)
    {
        ArgumentNullException.ThrowIfNull(world);
        ArgumentOutOfRangeException.ThrowIfLessThan(events, 1);
        World = world;
        _limit = events;
        _examples = world.Examples().GetEnumerator();
        _sourceOf = new int[spec.Fields.Length];
        for (var f = 0; f < spec.Fields.Length; f++)
        {
            var name = spec.Fields[f].Name;
            _sourceOf[f] = name switch
            {
                "campaignId" => 100,
                "adId" => 101,
                "advertiserId" => 102,
                _ => Array.IndexOf(ExampleRecord.ContextFieldNames, name) is var c and >= 0 ? c
                    : Array.IndexOf(ExampleRecord.FeatureFieldNames, name) is var a and >= 0 ? 200 + a
                    : -1,
            };
        }
    }

    public AdWorld World { get; }

    public string Description => "scenario " + World.Scenario.Name + " (seed " + World.Seed + ")";

    public bool RowClock => false;

    /// <summary>Examples read so far.</summary>
    public long Read => _read;

    public bool TryRead(RawRow row, out double hours, out double truth)
    {
        hours = 0;
        truth = double.NaN;
        if (_read >= _limit || !_examples.MoveNext())
        {
            return false;
        }

        _read++;
        var e = _examples.Current;
        row.Clear();
        for (var f = 0; f < _sourceOf.Length; f++)
        {
            var source = _sourceOf[f];
            var value = source switch
            {
                < 0 => null,
                100 => e.CampaignId,
                101 => e.AdId,
                102 => e.AdvertiserId,
                >= 200 => e.GetFeatureValue(source - 200),
                _ => e.GetContextValue(source),
            };
            if (value is not null)
            {
                row.Set(f, value.AsSpan());
            }
        }

        row.Label = e.Label;
        row.Weight = (float)e.Weight;
        var ms = new DateTimeOffset(e.Timestamp, TimeSpan.Zero).ToUnixTimeMilliseconds();
        row.TimestampMs = ms;
        hours = _clock.Next(ms);
        truth = e.TrueCtr;
        return true;
    }

    public void Dispose() => _examples.Dispose();
}

/// <summary>A log file (Criteo, Avazu or AdCtr NDJSON) read in order; the row order is the time order.</summary>
public sealed class LogSource : ICompareSource
{
    private readonly IExampleReader _reader;
    private readonly long _limit;
    private StreamClock _clock;
    private long _read;

    public LogSource(string path, LogFormat format, FeatureSpec spec, double rowsPerHour, long limit = long.MaxValue, bool strict = false)
    {
        _reader = ExampleReaders.OpenFile(path, format, spec, new ReaderOptions { Strict = strict });
        _limit = limit;
        _clock = new StreamClock(rowsPerHour);
        Description = format.ToString().ToLowerInvariant() + " log " + Path.GetFileName(path);
    }

    public string Description { get; }

    public bool RowClock => _clock.RowClock;

    public ReaderStatistics Statistics => _reader.Statistics;

    public bool TryRead(RawRow row, out double hours, out double truth)
    {
        hours = 0;
        truth = double.NaN;
        if (_read >= _limit || !_reader.TryRead(row))
        {
            return false;
        }

        _read++;
        hours = _clock.Next(row.TimestampMs);
        truth = _reader.TrueCtr ?? double.NaN;
        return true;
    }

    public void Dispose() => _reader.Dispose();
}
