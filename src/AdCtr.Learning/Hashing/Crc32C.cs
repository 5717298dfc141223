using System.Buffers.Binary;
using System.Numerics;

namespace AdCtr.Learning.Hashing;

/// <summary>
/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) over <see cref="BitOperations.Crc32C(uint, ulong)"/>,
/// which uses the SSE4.2 / ARMv8 CRC instructions when present. Standard initial value and final xor of
/// 0xFFFFFFFF (RFC 3720, appendix B.4; check value of "123456789" is 0xE3069283).
/// </summary>
public static class Crc32C
{
    /// <summary>Initial running state for <see cref="Update"/>.</summary>
    public const uint InitialState = 0xFFFFFFFFu;

    /// <summary>The CRC-32C of <paramref name="data"/>.</summary>
    public static uint Compute(ReadOnlySpan<byte> data) => Finish(Update(InitialState, data));

    /// <summary>Final value from a running state.</summary>
    public static uint Finish(uint state) => ~state;

    /// <summary>Chains the running state over <paramref name="data"/>, 8 bytes per step (little-endian, the byte order the instruction consumes).</summary>
    public static uint Update(uint state, ReadOnlySpan<byte> data)
    {
        while (data.Length >= 8)
        {
            state = BitOperations.Crc32C(state, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[8..];
        }

        if (data.Length >= 4)
        {
            state = BitOperations.Crc32C(state, BinaryPrimitives.ReadUInt32LittleEndian(data));
            data = data[4..];
        }

        if (data.Length >= 2)
        {
            state = BitOperations.Crc32C(state, BinaryPrimitives.ReadUInt16LittleEndian(data));
            data = data[2..];
        }

        if (data.Length == 1)
        {
            state = BitOperations.Crc32C(state, data[0]);
        }

        return state;
    }

    /// <summary>Continues a finished CRC <paramref name="crc"/> (0 to start) over <paramref name="data"/>.</summary>
    public static uint Append(uint crc, ReadOnlySpan<byte> data) => Finish(Update(~crc, data));
}
