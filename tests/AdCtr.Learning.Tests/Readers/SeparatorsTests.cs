using System.Runtime.Intrinsics;
using AdCtr.Learning.Readers;
using FsCheck;
using FsCheck.Fluent;

namespace AdCtr.Learning.Tests.Readers;

public class SeparatorsTests
{
    /// <summary>Every path (256-bit, 128-bit when the hardware has it; scalar always) on the same input.</summary>
    private static List<(string Path, int Count, int[] Positions)> AllPaths(byte[] line, byte separator, int capacity)
    {
        var results = new List<(string, int, int[])>();
        var scalar = new int[capacity];
        results.Add(("scalar", Separators.FindScalar(line, separator, scalar, 0, 0), scalar));
        var dispatched = new int[capacity];
        results.Add(("dispatched", Separators.Find(line, separator, dispatched), dispatched));
        if (Vector256.IsHardwareAccelerated && line.Length >= 32)
        {
            var v256 = new int[capacity];
            results.Add(("256", Separators.Find256(line, separator, v256), v256));
        }

        if (Vector128.IsHardwareAccelerated && line.Length >= 16)
        {
            var v128 = new int[capacity];
            results.Add(("128", Separators.Find128(line, separator, v128), v128));
        }

        return results;
    }

    [Fact]
    public void Find_KnownLine_ExactPositionsOnEveryPath()
    {
        // 70 bytes: tabs at 0, 5, 31, 32 (a 32-byte block boundary), 47 and 69 (the last byte).
        var line = new byte[70];
        Array.Fill(line, (byte)'x');
        int[] expected = [0, 5, 31, 32, 47, 69];
        foreach (var p in expected)
        {
            line[p] = (byte)'\t';
        }

        foreach (var (path, count, positions) in AllPaths(line, (byte)'\t', 10))
        {
            Assert.True(count == 6, path);
            Assert.Equal(expected, positions[..6]);
        }
    }

    [Fact]
    public void Find_MoreSeparatorsThanCapacity_CountsAllKeepsFirst()
    {
        var line = new byte[100];
        Array.Fill(line, (byte)',');
        foreach (var (path, count, positions) in AllPaths(line, (byte)',', 3))
        {
            Assert.True(count == 100, path);
            Assert.Equal([0, 1, 2], positions);
        }
    }

    [Fact]
    public void Find_RandomLines_AllPathsAgreeWithScalar()
    {
        // Lines of 0..199 bytes over a 4-letter alphabet with the separator: exercises every block and tail length.
        var alphabet = new[] { (byte)'\t', (byte)'a', (byte)'0', (byte)',' };
        Check.One(FixedSeed.Config(11), Prop.ForAll(Gen.ArrayOf(Gen.Elements(alphabet)).Resize(200).ToArbitrary(), line =>
        {
            var results = AllPaths(line, (byte)'\t', 64);
            var (_, count, positions) = results[0];
            foreach (var (_, c, p) in results)
            {
                if (c != count || !p.AsSpan(0, Math.Min(c, 64)).SequenceEqual(positions.AsSpan(0, Math.Min(count, 64))))
                {
                    return false;
                }
            }

            return true;
        }));
    }

    [Theory]
    [InlineData("0", true)]
    [InlineData("7", true)]
    [InlineData("-1", true)]
    [InlineData("12345678", true)]
    [InlineData("-1234567", true)]
    [InlineData("123456789012345678", true)]
    [InlineData("-123456789012345678", true)]
    [InlineData("1234567890123456789", false)]
    [InlineData("-", false)]
    [InlineData("--1", false)]
    [InlineData("1-", false)]
    [InlineData("1.5", false)]
    [InlineData("+1", false)]
    [InlineData(" 1", false)]
    [InlineData("1e3", false)]
    [InlineData(":", false)]
    [InlineData("/", false)]
    public void IsIntegerAt_Examples_MatchTheDefinition(string value, bool expected)
    {
        // The value followed by enough bytes for the 64-bit path, then alone (scalar fallback).
        var padded = System.Text.Encoding.ASCII.GetBytes(value + "\t12345678");
        Assert.Equal(expected, CriteoReader.IsIntegerAt(padded, 0, value.Length));
        var alone = System.Text.Encoding.ASCII.GetBytes(value);
        Assert.Equal(expected, CriteoReader.IsIntegerAt(alone, 0, value.Length));
        Assert.Equal(expected, CriteoReader.IsInteger(alone));
    }

    [Fact]
    public void IsIntegerAt_RandomValues_AgreesWithScalar()
    {
        // Bytes around the digit range, '-' and high bytes (carry cases of the word trick), any value length 1..10.
        var bytes = new[] { (byte)'0', (byte)'5', (byte)'9', (byte)'-', (byte)'/', (byte)':', (byte)'\t', (byte)0xFF, (byte)0xFA, (byte)0x06 };
        Check.One(FixedSeed.Config(12), Prop.ForAll(Gen.ArrayOf(Gen.Elements(bytes)).Resize(24).ToArbitrary(), Gen.Choose(1, 10).ToArbitrary(), (line, length) =>
        {
            if (line.Length < length)
            {
                return true;
            }

            return CriteoReader.IsIntegerAt(line, 0, length) == CriteoReader.IsInteger(line.AsSpan(0, length));
        }));
    }
}
