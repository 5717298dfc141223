using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace AdCtr.Learning.Readers;

/// <summary>
/// Finds every separator (tab, comma) of a line in one pass: 32 or 16 bytes at a time, comparing against the
/// separator and walking the set bits of the match mask, instead of one IndexOf call per column. Behind
/// <c>IsHardwareAccelerated</c> with a scalar path; both are tested to agree.
/// </summary>
internal static class Separators
{
    /// <summary>
    /// Writes the offsets of the separators in <paramref name="line"/> to <paramref name="positions"/> (as many
    /// as fit) and returns how many there are in all (the column count is that plus one).
    /// </summary>
    public static int Find(ReadOnlySpan<byte> line, byte separator, Span<int> positions)
    {
        if (Vector256.IsHardwareAccelerated && line.Length >= Vector256<byte>.Count)
        {
            return Find256(line, separator, positions);
        }

        if (Vector128.IsHardwareAccelerated && line.Length >= Vector128<byte>.Count)
        {
            return Find128(line, separator, positions);
        }

        return FindScalar(line, separator, positions, 0, 0);
    }

    internal static int Find256(ReadOnlySpan<byte> line, byte separator, Span<int> positions)
    {
        ref var start = ref MemoryMarshal.GetReference(line);
        var target = Vector256.Create(separator);
        var count = 0;
        var i = 0;
        var lastBlock = line.Length - Vector256<byte>.Count;
        for (; i <= lastBlock; i += Vector256<byte>.Count)
        {
            var mask = Vector256.Equals(Vector256.LoadUnsafe(ref start, (nuint)i), target).ExtractMostSignificantBits();
            count = Record(mask, i, positions, count);
        }

        if (i < line.Length)
        {
            // The last partial block: reload the final 32 bytes and drop the bits already seen.
            var mask = Vector256.Equals(Vector256.LoadUnsafe(ref start, (nuint)lastBlock), target).ExtractMostSignificantBits();
            mask >>= i - lastBlock;
            count = Record(mask, i, positions, count);
        }

        return count;
    }

    internal static int Find128(ReadOnlySpan<byte> line, byte separator, Span<int> positions)
    {
        ref var start = ref MemoryMarshal.GetReference(line);
        var target = Vector128.Create(separator);
        var count = 0;
        var i = 0;
        var lastBlock = line.Length - Vector128<byte>.Count;
        for (; i <= lastBlock; i += Vector128<byte>.Count)
        {
            var mask = Vector128.Equals(Vector128.LoadUnsafe(ref start, (nuint)i), target).ExtractMostSignificantBits();
            count = Record(mask, i, positions, count);
        }

        if (i < line.Length)
        {
            var mask = Vector128.Equals(Vector128.LoadUnsafe(ref start, (nuint)lastBlock), target).ExtractMostSignificantBits();
            mask >>= i - lastBlock;
            count = Record(mask, i, positions, count);
        }

        return count;
    }

    internal static int FindScalar(ReadOnlySpan<byte> line, byte separator, Span<int> positions, int from, int count)
    {
        for (var i = from; i < line.Length; i++)
        {
            if (line[i] == separator)
            {
                if ((uint)count < (uint)positions.Length)
                {
                    positions[count] = i;
                }

                count++;
            }
        }

        return count;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Record(uint mask, int offset, Span<int> positions, int count)
    {
        while (mask != 0)
        {
            if ((uint)count < (uint)positions.Length)
            {
                positions[count] = offset + BitOperations.TrailingZeroCount(mask);
            }

            count++;
            mask &= mask - 1;
        }

        return count;
    }
}
