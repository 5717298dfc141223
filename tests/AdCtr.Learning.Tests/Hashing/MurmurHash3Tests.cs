using System.Text;
using AdCtr.Learning.Hashing;

namespace AdCtr.Learning.Tests.Hashing;

public class MurmurHash3Tests
{
    // Reference vectors of MurmurHash3_x86_32 listed in shared/REFERENCES.md.
    [Theory]
    [InlineData("", 0u, 0x00000000u)]
    [InlineData("", 1u, 0x514E28B7u)]
    [InlineData("", 0xFFFFFFFFu, 0x81F16F39u)]
    [InlineData("aaaa", 0x9747B28Cu, 0x5A97808Au)]
    [InlineData("Hello, world!", 0x9747B28Cu, 0x24884CBAu)]
    [InlineData("The quick brown fox jumps over the lazy dog", 0x9747B28Cu, 0x2FA826CDu)]
    public void Hash32_ReferenceVector_MatchesPublishedValue(string input, uint seed, uint expected)
    {
        Assert.Equal(expected, MurmurHash3.Hash32(Encoding.ASCII.GetBytes(input), seed));
    }

    [Fact]
    public void Hash32_FourZeroBytes_MatchesPublishedValue()
    {
        Assert.Equal(0x2362F9DEu, MurmurHash3.Hash32(new byte[4], 0));
    }

    [Theory]
    [InlineData(0u, 0u, 0u)]
    [InlineData(1u, 2u, 42u)]
    [InlineData(0xDEADBEEFu, 0xCAFEBABEu, 0x9747B28Cu)]
    public void Hash32OfTwoWords_Always_EqualsHashOfTheirEightLittleEndianBytes(uint a, uint b, uint seed)
    {
        var bytes = new byte[8];
        BitConverter.TryWriteBytes(bytes.AsSpan(0, 4), a);
        BitConverter.TryWriteBytes(bytes.AsSpan(4, 4), b);
        Assert.Equal(MurmurHash3.Hash32(bytes, seed), MurmurHash3.Hash32(a, b, seed));
    }

    [Fact]
    public void Hash32_EveryTailLength_DiffersFromNeighbours()
    {
        // Inputs of length 0..16 cover every tail case (0..3 trailing bytes) with 0..4 blocks; the hashes of
        // prefixes of one string must all differ (a broken tail switch would make neighbours collide).
        var data = Encoding.ASCII.GetBytes("0123456789abcdef");
        var seen = new HashSet<uint>();
        for (var length = 0; length <= data.Length; length++)
        {
            Assert.True(seen.Add(MurmurHash3.Hash32(data.AsSpan(0, length), 7)), $"collision at length {length}");
        }
    }

    /// <summary>smhasher's MurmurHash3_x86_32 transcribed byte by byte (no word reads), as the reference.</summary>
    private static uint ReferenceHash(byte[] data, uint seed)
    {
        static uint Rotl(uint x, int r) => (x << r) | (x >> (32 - r));
        var h1 = seed;
        var blocks = data.Length / 4;
        for (var i = 0; i < blocks; i++)
        {
            var k1 = data[4 * i] | ((uint)data[(4 * i) + 1] << 8) | ((uint)data[(4 * i) + 2] << 16) | ((uint)data[(4 * i) + 3] << 24);
            k1 *= 0xcc9e2d51;
            k1 = Rotl(k1, 15);
            k1 *= 0x1b873593;
            h1 ^= k1;
            h1 = Rotl(h1, 13);
            h1 = (h1 * 5) + 0xe6546b64;
        }

        uint t = 0;
        var tail = blocks * 4;
        switch (data.Length & 3)
        {
            case 3: t ^= (uint)data[tail + 2] << 16; goto case 2;
            case 2: t ^= (uint)data[tail + 1] << 8; goto case 1;
            case 1:
                t ^= data[tail];
                t *= 0xcc9e2d51;
                t = Rotl(t, 15);
                t *= 0x1b873593;
                h1 ^= t;
                break;
        }

        h1 ^= (uint)data.Length;
        h1 ^= h1 >> 16;
        h1 *= 0x85ebca6b;
        h1 ^= h1 >> 13;
        h1 *= 0xc2b2ae35;
        h1 ^= h1 >> 16;
        return h1;
    }

    [Fact]
    public void Hash32_RandomInputsOfEveryLengthUpTo64_EqualsReferenceTranscription()
    {
        var rng = new Random(3);
        for (var length = 0; length <= 64; length++)
        {
            for (var trial = 0; trial < 20; trial++)
            {
                var data = new byte[length];
                rng.NextBytes(data);
                var seed = (uint)rng.NextInt64(0, 1L << 32);
                Assert.Equal(ReferenceHash(data, seed), MurmurHash3.Hash32(data, seed));
            }
        }
    }

    [Fact]
    public void Hash32WithPrefix_EveryPrefixAndValueLength_EqualsHashOfConcatenation()
    {
        // Prefix lengths 0..9 leave 0..3 carried bytes; values of 0..21 bytes end with every tail length.
        var rng = new Random(4);
        for (var prefixLength = 0; prefixLength <= 9; prefixLength++)
        {
            for (var valueLength = 0; valueLength <= 21; valueLength++)
            {
                for (var trial = 0; trial < 10; trial++)
                {
                    var bytes = new byte[prefixLength + valueLength];
                    rng.NextBytes(bytes);
                    var seed = (uint)rng.NextInt64(0, 1L << 32);
                    var prefix = MurmurHash3.CreatePrefix(bytes.AsSpan(0, prefixLength), seed);
                    Assert.Equal(ReferenceHash(bytes, seed), MurmurHash3.Hash32(prefix, bytes.AsSpan(prefixLength)));
                }
            }
        }
    }

    [Fact]
    public void Hash32WithPrefix_CriteoFieldAndValue_EqualsHashOfConcatenation()
    {
        var prefix = MurmurHash3.CreatePrefix("C10="u8, 1);
        Assert.Equal(MurmurHash3.Hash32("C10=68fd1e64"u8, 1), MurmurHash3.Hash32(prefix, "68fd1e64"u8));
    }

    [Fact]
    public void Hash32Of8_EveryPrefixLength_EqualsHashOfConcatenation()
    {
        // Prefix lengths 0..9 leave 0..3 carried bytes: every shift of the 8-byte value.
        var rng = new Random(5);
        for (var prefixLength = 0; prefixLength <= 9; prefixLength++)
        {
            for (var trial = 0; trial < 200; trial++)
            {
                var bytes = new byte[prefixLength + 8];
                rng.NextBytes(bytes);
                if (trial == 0)
                {
                    bytes.AsSpan(prefixLength).Fill(0xFF); // every bit of the value set: nothing may shift in from outside
                }

                var seed = (uint)rng.NextInt64(0, 1L << 32);
                var prefix = MurmurHash3.CreatePrefix(bytes.AsSpan(0, prefixLength), seed);
                var value = BitConverter.ToUInt64(bytes, prefixLength);
                Assert.Equal(ReferenceHash(bytes, seed), MurmurHash3.Hash32Of8(prefix, value));
            }
        }
    }
}
