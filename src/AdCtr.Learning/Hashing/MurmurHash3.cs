using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace AdCtr.Learning.Hashing;

/// <summary>
/// MurmurHash3 x86_32 (Austin Appleby, public domain reference implementation, smhasher MurmurHash3.cpp).
/// Written here because no hashing package restores in this project (see STACK.md); verified against
/// the published reference vectors listed in REFERENCES.md. Little-endian block reads, as the reference.
/// </summary>
public static class MurmurHash3
{
    /// <summary>Identifier recorded in model snapshots so a model is never scored with another hash.</summary>
    public const int FunctionId = 1;

    private const uint C1 = 0xcc9e2d51;
    private const uint C2 = 0x1b873593;

    /// <summary>Hashes <paramref name="data"/> with <paramref name="seed"/>.</summary>
    public static uint Hash32(ReadOnlySpan<byte> data, uint seed)
    {
        var h1 = seed;
        var length = data.Length;
        var blocks = length >> 2;
        var i = 0;
        for (; i < blocks; i++)
        {
            var k1 = BinaryPrimitives.ReadUInt32LittleEndian(data.Slice(i << 2, 4));
            h1 ^= MixK(k1);
            h1 = BitOperations.RotateLeft(h1, 13);
            h1 = (h1 * 5) + 0xe6546b64;
        }

        var tail = data.Slice(blocks << 2);
        uint t = 0;
        switch (tail.Length)
        {
            case 3:
                t ^= (uint)tail[2] << 16;
                goto case 2;
            case 2:
                t ^= (uint)tail[1] << 8;
                goto case 1;
            case 1:
                t ^= tail[0];
                h1 ^= MixK(t);
                break;
        }

        h1 ^= (uint)length;
        return FMix(h1);
    }

    /// <summary>
    /// Hashes the 8 bytes of two 32-bit values (little-endian, <paramref name="a"/> first). Used to combine
    /// the hashes of two fields into the hash of their cross without re-reading the field values.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Hash32(uint a, uint b, uint seed)
    {
        var h1 = seed;
        h1 ^= MixK(a);
        h1 = (BitOperations.RotateLeft(h1, 13) * 5) + 0xe6546b64;
        h1 ^= MixK(b);
        h1 = (BitOperations.RotateLeft(h1, 13) * 5) + 0xe6546b64;
        h1 ^= 8;
        return FMix(h1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint MixK(uint k1)
    {
        k1 *= C1;
        k1 = BitOperations.RotateLeft(k1, 15);
        return k1 * C2;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint FMix(uint h)
    {
        h ^= h >> 16;
        h *= 0x85ebca6b;
        h ^= h >> 13;
        h *= 0xc2b2ae35;
        h ^= h >> 16;
        return h;
    }
}
