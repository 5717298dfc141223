using System.Numerics;
using System.Runtime.CompilerServices;

namespace AdCtr.Server.Metrics;

/// <summary>
/// Per-processor stripes for contended accumulation: each stripe starts 8 longs (64 bytes, one cache line)
/// after the previous, so two processors never write the same line. Summed when read.
/// </summary>
internal static class Stripes
{
    public static readonly int Count = (int)Math.Min(16, BitOperations.RoundUpToPowerOf2((uint)Environment.ProcessorCount));

    public const int LineLongs = 8;

    public static int Current
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Thread.GetCurrentProcessorId() & (Count - 1);
    }

    /// <summary>Adds to a double stored as its bits, lock-free (compare-and-swap until no other writer interfered).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddDouble(ref long cell, double value)
    {
        var seen = Volatile.Read(ref cell);
        while (true)
        {
            var next = BitConverter.DoubleToInt64Bits(BitConverter.Int64BitsToDouble(seen) + value);
            var previous = Interlocked.CompareExchange(ref cell, next, seen);
            if (previous == seen)
            {
                return;
            }

            seen = previous;
        }
    }
}

/// <summary>A series of one instrument: its tags and its accumulated state.</summary>
internal abstract class MetricSeries(TagSet tags)
{
    public TagSet Tags { get; } = tags;

    public abstract void Record(long value);

    public abstract void Record(double value);
}

/// <summary>Sum of integer measurements (Counter / UpDownCounter of byte, short, int, long), striped.</summary>
internal sealed class LongSumSeries(TagSet tags) : MetricSeries(tags)
{
    private readonly long[] _cells = new long[Stripes.Count * Stripes.LineLongs];

    public override void Record(long value) => Interlocked.Add(ref _cells[Stripes.Current * Stripes.LineLongs], value);

    public override void Record(double value) => Record((long)value);

    public long Read()
    {
        long sum = 0;
        for (var s = 0; s < Stripes.Count; s++)
        {
            sum += Volatile.Read(ref _cells[s * Stripes.LineLongs]);
        }

        return sum;
    }
}

/// <summary>Sum of floating-point measurements, striped, each stripe a double updated by compare-and-swap.</summary>
internal sealed class DoubleSumSeries(TagSet tags) : MetricSeries(tags)
{
    private readonly long[] _cells = new long[Stripes.Count * Stripes.LineLongs];

    public override void Record(long value) => Record((double)value);

    public override void Record(double value) => Stripes.AddDouble(ref _cells[Stripes.Current * Stripes.LineLongs], value);

    public double Read()
    {
        var sum = 0.0;
        for (var s = 0; s < Stripes.Count; s++)
        {
            sum += BitConverter.Int64BitsToDouble(Volatile.Read(ref _cells[s * Stripes.LineLongs]));
        }

        return sum;
    }
}

/// <summary>Last recorded value (Gauge, and every observable instrument), with the collection it was observed in.</summary>
internal sealed class LastValueSeries(TagSet tags) : MetricSeries(tags)
{
    private long _bits;
    private long _generation;

    public override void Record(long value) => Record((double)value);

    public override void Record(double value) => Volatile.Write(ref _bits, BitConverter.DoubleToInt64Bits(value));

    public void Observe(double value, long generation)
    {
        Record(value);
        Volatile.Write(ref _generation, generation);
    }

    public long Generation => Volatile.Read(ref _generation);

    public double Read() => BitConverter.Int64BitsToDouble(Volatile.Read(ref _bits));
}

/// <summary>
/// Histogram with explicit upper bounds: per stripe one long counter per bucket (the last is +Inf) and the sum
/// (double bits), padded to whole cache lines. A value v falls in the first bucket whose bound b has v &lt;= b
/// (Prometheus <c>le</c> is inclusive), found by binary search.
/// </summary>
internal sealed class HistogramSeries : MetricSeries
{
    private readonly double[] _bounds;
    private readonly int _stride;
    private readonly long[] _cells;

    public HistogramSeries(TagSet tags, double[] bounds)
        : base(tags)
    {
        _bounds = bounds;
        var used = bounds.Length + 2; // buckets + +Inf + sum
        _stride = (used + Stripes.LineLongs - 1) / Stripes.LineLongs * Stripes.LineLongs;
        _cells = new long[Stripes.Count * _stride];
    }

    public override void Record(long value) => Record((double)value);

    public override void Record(double value)
    {
        if (double.IsNaN(value))
        {
            return;
        }

        var bucket = Array.BinarySearch(_bounds, value);
        if (bucket < 0)
        {
            bucket = ~bucket; // index of the first bound greater than the value, or _bounds.Length for +Inf
        }

        var stripe = Stripes.Current * _stride;
        Interlocked.Increment(ref _cells[stripe + bucket]);
        Stripes.AddDouble(ref _cells[stripe + _bounds.Length + 1], value);
    }

    /// <summary>Per-bucket (non-cumulative) counts, +Inf last, and the sum.</summary>
    public double Read(Span<long> counts)
    {
        counts.Clear();
        var sum = 0.0;
        for (var s = 0; s < Stripes.Count; s++)
        {
            var stripe = s * _stride;
            for (var b = 0; b <= _bounds.Length; b++)
            {
                counts[b] += Volatile.Read(ref _cells[stripe + b]);
            }

            sum += BitConverter.Int64BitsToDouble(Volatile.Read(ref _cells[stripe + _bounds.Length + 1]));
        }

        return sum;
    }
}
