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
}
