using System.Buffers.Binary;
using System.Numerics;

namespace AdCtr.Learning.Hashing;

/// <summary>CRC32C (Castagnoli) over a byte span with the hardware instruction behind <see cref="BitOperations.Crc32C(uint, ulong)"/>.</summary>
public static class Crc32C
{
    /// <summary>Continues <paramref name="crc"/> (start with 0) over <paramref name="data"/>.</summary>
    public static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        var state = ~crc;
        while (data.Length >= 8)
        {
            state = BitOperations.Crc32C(state, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data.Slice(8);
        }

        foreach (var b in data)
        {
            state = BitOperations.Crc32C(state, b);
        }

        return ~state;
    }

    public static uint Compute(ReadOnlySpan<byte> data) => Append(0, data);
}
