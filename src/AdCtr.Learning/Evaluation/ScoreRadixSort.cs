using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace AdCtr.Learning.Evaluation;

/// <summary>A 64-bit sort key with a double payload (16 bytes, so a sort pass moves no more than it must).</summary>
internal readonly struct ScoreRecord(ulong key, double signedWeight)
{
    public readonly ulong Key = key;
    public readonly double SignedWeight = signedWeight;
}

/// <summary>
/// Stable least-significant-digit radix sort of <see cref="ScoreRecord"/>s by their 64-bit key, six passes of
/// 11 bits (the last of 9): one pass over the records counts every digit, then each pass whose digit is not the
/// same for all records scatters them to the other buffer (a digit shared by every record is skipped: for scores
/// in [0, 1] the top bits rarely vary). O(n) against the O(n log n) comparisons of an introsort, and stable, so
/// tied keys keep their input order.
/// </summary>
internal static class ScoreRadixSort
{
    private const int DigitBits = 11;
    private const int Buckets = 1 << DigitBits;
    private const int Passes = (64 + DigitBits - 1) / DigitBits;

    /// <summary>Sorts <paramref name="records"/> in place; <paramref name="scratch"/> is at least as long.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // typically called once, on millions of records
    public static void Sort(Span<ScoreRecord> records, Span<ScoreRecord> scratch)
    {
        var n = records.Length;
        if (n < 2)
        {
            return;
        }

        if (scratch.Length < n)
        {
            throw new ArgumentException("scratch is shorter than the records", nameof(scratch));
        }

        scratch = scratch[..n];
        var counts = new int[Passes * Buckets];
        ref var c0 = ref MemoryMarshal.GetArrayDataReference(counts);
        foreach (ref readonly var r in records)
        {
            var key = r.Key;
            for (var d = 0; d < Passes; d++)
            {
                Unsafe.Add(ref c0, (d * Buckets) + (int)((key >> (d * DigitBits)) & (Buckets - 1)))++;
            }
        }

        var source = records;
        var target = scratch;
        for (var d = 0; d < Passes; d++)
        {
            var digitCounts = counts.AsSpan(d * Buckets, Buckets);
            var shift = d * DigitBits;
            if (digitCounts[(int)((source[0].Key >> shift) & (Buckets - 1))] == n)
            {
                continue; // every record has this digit: the pass would not move anything
            }

            // Exclusive prefix sums: the first output position of each digit value.
            var offset = 0;
            for (var b = 0; b < Buckets; b++)
            {
                var count = digitCounts[b];
                digitCounts[b] = offset;
                offset += count;
            }

            ref var next = ref MemoryMarshal.GetReference(digitCounts);
            ref var output = ref MemoryMarshal.GetReference(target);
            foreach (ref readonly var r in source)
            {
                ref var position = ref Unsafe.Add(ref next, (int)((r.Key >> shift) & (Buckets - 1)));
                Unsafe.Add(ref output, position) = r;
                position++;
            }

            var swap = source;
            source = target;
            target = swap;
        }

        if (source != records)
        {
            source.CopyTo(records);
        }
    }
}
