using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

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
        var h1 = Blocks(seed, data);
        var length = data.Length;
        var tail = length & ~3;
        return Finish(h1, TailWord(data, tail, length - tail), length - tail, (uint)length);
    }

    /// <summary>
    /// The state of the hash after the 4-byte blocks of <paramref name="prefix"/>, for
    /// <see cref="Hash32(in Prefix, ReadOnlySpan{byte})"/>: hashing many values that share a prefix (the
    /// encoder's <c>"field="</c>) without copying prefix and value into one buffer.
    /// </summary>
    public static Prefix CreatePrefix(ReadOnlySpan<byte> prefix, uint seed)
    {
        var blocks = prefix.Length & ~3;
        var h1 = Blocks(seed, prefix[..blocks]);
        return new Prefix(h1, TailWord(prefix, blocks, prefix.Length - blocks), prefix.Length);
    }

    /// <summary>
    /// <c>Hash32(prefix ++ value, seed)</c>, bit-identical, with the prefix's blocks already mixed into
    /// <paramref name="prefix"/> (see <see cref="CreatePrefix"/>): the value's bytes are shifted in behind the
    /// prefix's 0 to 3 leftover bytes to form the same 4-byte blocks the concatenation would give.
    /// </summary>
    public static uint Hash32(in Prefix prefix, ReadOnlySpan<byte> value)
    {
        var h1 = prefix.State;
        var carried = prefix.TailBytes;
        var length = value.Length;
        ref var data = ref MemoryMarshal.GetReference(value);
        var i = 0;
        if (carried == 0)
        {
            for (; i + 4 <= length; i += 4)
            {
                h1 = Block(h1, Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref data, i)));
            }
        }
        else
        {
            // Each block is the carried bytes, then the first 4 - carried bytes of the next value word.
            var carry = prefix.Tail;
            var shiftIn = carried * 8;
            var shiftOut = 32 - shiftIn;
            for (; i + 4 <= length; i += 4)
            {
                var word = Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref data, i));
                h1 = Block(h1, carry | (word << shiftIn));
                carry = word >> shiftOut;
            }

            // carried + (0..3) value bytes left: one more full block when they make 4 or more.
            var rest = (ulong)carry | ((ulong)TailWord(value, i, length - i) << shiftIn);
            var restBytes = carried + (length - i);
            if (restBytes >= 4)
            {
                h1 = Block(h1, (uint)rest);
                rest >>= 32;
                restBytes -= 4;
            }

            return Finish(h1, (uint)rest, restBytes, (uint)(prefix.Length + length));
        }

        return Finish(h1, TailWord(value, i, length - i), length - i, (uint)(prefix.Length + length));
    }

    /// <summary>
    /// <c>Hash32(prefix ++ value, seed)</c> for a value of exactly 8 bytes given as its little-endian word (a Criteo
    /// categorical: 8 hex digits), bit-identical to <see cref="Hash32(in Prefix, ReadOnlySpan{byte})"/>, without a
    /// loop or a branch: the prefix's c leftover bytes and the value's 8 make two whole blocks and a tail of c bytes
    /// (no tail when c = 0, where the tail's mix is of 0, which is 0 and leaves the state unchanged).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Hash32Of8(in Prefix prefix, ulong value)
    {
        var shift = prefix.TailBytes * 8;
        var low = prefix.Tail | (value << shift);

        // The value's last c bytes: value >> (64 - 8c), written so that c = 0 shifts everything out.
        var rest = (uint)((value >> 1) >> (63 - shift));
        var h1 = Block(Block(prefix.State, (uint)low), (uint)(low >> 32));
        h1 ^= MixK(rest);
        h1 ^= (uint)(prefix.Length + 8);
        return FMix(h1);
    }

    /// <summary>The hash state after a prefix's whole 4-byte blocks, and the prefix's 0 to 3 remaining bytes.</summary>
    public readonly struct Prefix
    {
        internal Prefix(uint state, uint tail, int length)
        {
            State = state;
            Tail = tail;
            Length = length;
        }

        internal uint State { get; }

        /// <summary>The prefix's last <c>Length % 4</c> bytes, little-endian.</summary>
        internal uint Tail { get; }

        internal int TailBytes => Length & 3;

        /// <summary>Length of the prefix in bytes.</summary>
        public int Length { get; }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Blocks(uint h1, ReadOnlySpan<byte> data)
    {
        ref var start = ref MemoryMarshal.GetReference(data);
        var end = data.Length - 3;
        for (var i = 0; i < end; i += 4)
        {
            h1 = Block(h1, Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref start, i)));
        }

        return h1;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Block(uint h1, uint k1)
    {
        h1 ^= MixK(k1);
        h1 = BitOperations.RotateLeft(h1, 13);
        return (h1 * 5) + 0xe6546b64;
    }

    /// <summary>The <paramref name="count"/> (0 to 3) bytes at <paramref name="at"/> as a little-endian word.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint TailWord(ReadOnlySpan<byte> data, int at, int count)
    {
        uint t = 0;
        switch (count)
        {
            case 3:
                t ^= (uint)data[at + 2] << 16;
                goto case 2;
            case 2:
                t ^= (uint)data[at + 1] << 8;
                goto case 1;
            case 1:
                t ^= data[at];
                break;
        }

        return t;
    }

    /// <summary>Mixes in the tail word (when there are tail bytes) and the length, then the final avalanche.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Finish(uint h1, uint tail, int tailBytes, uint length)
    {
        if (tailBytes != 0)
        {
            h1 ^= MixK(tail);
        }

        h1 ^= length;
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
