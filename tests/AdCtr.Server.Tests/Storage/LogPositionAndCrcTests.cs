using AdCtr.Learning.Hashing;
using System.Text;
using AdCtr.Server.Storage;

namespace AdCtr.Server.Tests.Storage;

public sealed class LogPositionAndCrcTests
{
    [Fact]
    public void LogPosition_WriteToReadFrom_RoundTripsAndOrders()
    {
        var bytes = new byte[LogPosition.SerializedSize];
        var position = new LogPosition(0x0102030405060708);
        position.WriteTo(bytes);
        Assert.Equal(new byte[] { 8, 7, 6, 5, 4, 3, 2, 1 }, bytes);
        Assert.Equal(position, LogPosition.ReadFrom(bytes));
        Assert.Equal(position, LogPosition.Parse(position.ToString()));
        Assert.True(new LogPosition(3) < new LogPosition(4));
        Assert.Equal(-1, new LogPosition(3).CompareTo(new LogPosition(4)));
    }

    [Fact]
    public void Crc32C_StandardCheckInput_MatchesPublishedValue()
    {
        // RFC 3720 B.4 / the CRC catalogue: CRC-32C("123456789") = 0xE3069283; 32 zero bytes -> 0x8A9136AA.
        Assert.Equal(0xE3069283u, Crc32C.Compute(Encoding.ASCII.GetBytes("123456789")));
        Assert.Equal(0x8A9136AAu, Crc32C.Compute(new byte[32]));
    }

    [Fact]
    public void Crc32C_ChainedOverAnySplit_EqualsOneShot()
    {
        var data = new byte[77];
        new Random(7).NextBytes(data);
        var whole = Crc32C.Compute(data);
        for (var split = 0; split <= data.Length; split++)
        {
            var state = Crc32C.Update(Crc32C.InitialState, data.AsSpan(0, split));
            state = Crc32C.Update(state, data.AsSpan(split));
            Assert.Equal(whole, Crc32C.Finish(state));
        }
    }
}

public sealed class DirectorySyncTests
{
    [Fact]
    public void TryFsync_ExistingDirectory_SucceedsOnLinuxOnly()
    {
        using var dir = new TempDirectory();
        // On Linux the libc open/fsync/close P/Invoke must resolve and succeed; elsewhere it is skipped.
        Assert.Equal(OperatingSystem.IsLinux(), DirectorySync.TryFsync(dir.Path));
        Assert.False(DirectorySync.TryFsync(Path.Combine(dir.Path, "missing")));
    }
}
