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

    /// <summary>Which buffer of <see cref="Sort(ReadOnlySpan{ScoreRecord}, Span{ScoreRecord}, Span{ScoreRecord})"/> holds the result.</summary>
    public enum Result
    {
        InFirst,
        InSecond,
    }

    /// <summary>Sorts <paramref name="records"/> in place; <paramref name="scratch"/> is at least as long.</summary>
    public static void Sort(Span<ScoreRecord> records, Span<ScoreRecord> scratch)
    {
        if (scratch.Length < records.Length)
        {
            throw new ArgumentException("scratch is shorter than the records", nameof(scratch));
        }

        // The records are read only by the first pass, which writes the scratch: they may be the second buffer.
        if (Sort(records, scratch[..records.Length], records) == Result.InFirst)
        {
            scratch[..records.Length].CopyTo(records);
        }
    }

    /// <summary>
    /// Sorts <paramref name="input"/> (left unchanged unless it is <paramref name="second"/>) into <paramref name="first"/>
    /// or <paramref name="second"/>, both at least as long, and says which: the passes alternate between the two.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // typically called once, on millions of records
    public static Result Sort(ReadOnlySpan<ScoreRecord> input, Span<ScoreRecord> first, Span<ScoreRecord> second)
    {
        var n = input.Length;
        if (first.Length < n || second.Length < n)
        {
            throw new ArgumentException("a buffer is shorter than the input");
        }

        first = first[..n];
        second = second[..n];
        var counts = new int[Passes * Buckets];
        ref var c0 = ref MemoryMarshal.GetArrayDataReference(counts);
        foreach (ref readonly var r in input)
        {
            var key = r.Key;
            for (var d = 0; d < Passes; d++)
            {
                Unsafe.Add(ref c0, (d * Buckets) + (int)((key >> (d * DigitBits)) & (Buckets - 1)))++;
            }
        }

        var source = input;
        var target = first;
        var other = second;
        var result = (Result?)null;
        for (var d = 0; d < Passes && n > 1; d++)
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

            result = result is Result.InFirst ? Result.InSecond : Result.InFirst;
            source = target;
            var written = target;
            target = other;
            other = written;
        }

        if (result is null)
        {
            // No pass moved anything (fewer than two records, or one key): the input is already in order.
            if (!Unsafe.AreSame(ref MemoryMarshal.GetReference(input), ref MemoryMarshal.GetReference(second)))
            {
                input.CopyTo(first);
                return Result.InFirst;
            }

            return Result.InSecond;
        }

        return result.Value;
    }
}
