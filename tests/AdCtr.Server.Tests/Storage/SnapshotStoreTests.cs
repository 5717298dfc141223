using System.Text;
using AdCtr.Server.Storage;

namespace AdCtr.Server.Tests.Storage;

public sealed class SnapshotStoreTests
{
    private static Func<Stream, CancellationToken, Task> Content(string text) =>
        (stream, ct) => stream.WriteAsync(Encoding.UTF8.GetBytes(text), ct).AsTask();

    private static async Task<string> ReadTextAsync(SnapshotStore store, SnapshotInfo snapshot)
    {
        await using var stream = store.OpenRead(snapshot);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return await reader.ReadToEndAsync();
    }

    [Fact]
    public async Task WriteAsync_MoreThanKeep_KeepsNewestKListedNewestFirst()
    {
        using var dir = new TempDirectory();
        var store = new SnapshotStore(dir.Path, snapshotsToKeep: 3);
        for (var sequence = 1; sequence <= 5; sequence++)
        {
            var info = await store.WriteAsync(sequence, Content("model " + sequence));
            Assert.Equal(Path.Combine(dir.Path, "snapshot-" + sequence.ToString("D10") + ".bin"), info.Path);
            Assert.Equal(SnapshotStore.HeaderBytes + ("model " + sequence).Length, info.Length);
        }

        var list = store.List();
        Assert.Equal([5L, 4, 3], list.Select(s => s.Sequence));
        Assert.Equal("model 5", await ReadTextAsync(store, list[0]));
        Assert.Equal("model 3", await ReadTextAsync(store, list[2]));
        Assert.Equal(3, Directory.GetFiles(dir.Path).Length);
    }

    [Fact]
    public async Task Constructor_TmpLeftoverOfInterruptedWrite_IgnoredAndDeleted()
    {
        using var dir = new TempDirectory();
        await new SnapshotStore(dir.Path).WriteAsync(1, Content("good"));
        var leftover = Path.Combine(dir.Path, "snapshot-0000000002.bin.tmp");
        await File.WriteAllTextAsync(leftover, "half a snapsh");

        var store = new SnapshotStore(dir.Path);

        Assert.False(File.Exists(leftover));
        var only = Assert.Single(store.List());
        Assert.Equal(1, only.Sequence);
    }

    [Fact]
    public async Task WriteAsync_CrashBetweenTempWriteAndRename_PreviousSnapshotIntact()
    {
        using var dir = new TempDirectory();
        var store = new SnapshotStore(dir.Path);
        await store.WriteAsync(1, Content("previous"));
        string? tempSeen = null;
        store.AfterTempFileWritten = temp =>
        {
            tempSeen = temp;
            Assert.True(File.Exists(temp)); // the complete temp file exists, the final name does not yet
            Assert.False(File.Exists(temp[..^".tmp".Length]));
            throw new IOException("simulated crash before rename");
        };

        // An I/O failure comes out as a storage fault naming the snapshot and the one kept, with the cause inside.
        var error = await Assert.ThrowsAsync<StorageFaultException>(() => store.WriteAsync(2, Content("next")));
        Assert.Equal("simulated crash before rename", error.InnerException!.Message);

        Assert.Equal(Path.Combine(dir.Path, "snapshot-0000000002.bin.tmp"), tempSeen);
        var only = Assert.Single(store.List());
        Assert.Equal(1, only.Sequence);
        Assert.Equal("previous", await ReadTextAsync(store, only));
        var loaded = await new SnapshotStore(dir.Path).LoadNewestAsync((s, info, ct) => Task.FromResult(info.Sequence));
        Assert.Equal(1, loaded.Value);
    }

    [Fact]
    public async Task LoadNewestAsync_CallerRejectsNewest_FallsBackToOlder()
    {
        using var dir = new TempDirectory();
        var store = new SnapshotStore(dir.Path);
        for (var sequence = 1; sequence <= 3; sequence++)
        {
            await store.WriteAsync(sequence, Content("model " + sequence));
        }

        var result = await store.LoadNewestAsync(async (stream, info, ct) =>
        {
            using var reader = new StreamReader(stream);
            var text = await reader.ReadToEndAsync(ct);
            return info.Sequence == 3 ? throw new InvalidDataException("unsupported model version") : text;
        });

        Assert.True(result.Found);
        Assert.Equal("model 2", result.Value);
        Assert.Equal(2, result.Snapshot!.Sequence);
        var rejected = Assert.Single(result.Rejected);
        Assert.Equal(3, rejected.Snapshot.Sequence);
        Assert.Equal("unsupported model version", rejected.Reason);
    }

    [Fact]
    public async Task LoadNewestAsync_NewestFailsChecksum_FallsBackToOlder()
    {
        using var dir = new TempDirectory();
        var store = new SnapshotStore(dir.Path);
        await store.WriteAsync(1, Content("model 1"));
        var newest = await store.WriteAsync(2, Content("model 2"));
        var bytes = await File.ReadAllBytesAsync(newest.Path);
        bytes[SnapshotStore.HeaderBytes + 3] ^= 0x01;
        await File.WriteAllBytesAsync(newest.Path, bytes);

        Assert.Throws<InvalidDataException>(() => store.OpenRead(store.List()[0]));
        var result = await store.LoadNewestAsync((stream, info, ct) => Task.FromResult(info.Sequence));
        Assert.Equal(1, result.Value);
        Assert.Contains("CRC32C", Assert.Single(result.Rejected).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LoadNewestAsync_EmptyStore_NotFound()
    {
        using var dir = new TempDirectory();
        var result = await new SnapshotStore(dir.Path).LoadNewestAsync((stream, info, ct) => Task.FromResult(0));
        Assert.False(result.Found);
        Assert.Null(result.Snapshot);
        Assert.Empty(result.Rejected);
    }

    [Fact]
    public async Task WriteAsync_LowerSequenceThanNewest_Throws()
    {
        using var dir = new TempDirectory();
        var store = new SnapshotStore(dir.Path);
        await store.WriteAsync(5, Content("five"));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => store.WriteAsync(4, Content("four")));
        Assert.Equal([5L], store.List().Select(s => s.Sequence));
    }

    [Fact]
    public async Task WriteAsync_DiskFull_ThrowsNoSpaceFaultKeepsPreviousSnapshotAndLeavesNoTempFile()
    {
        using var dir = new TempDirectory();
        var fs = new FaultInjectingFileSystem();
        var store = new SnapshotStore(dir.Path, snapshotsToKeep: 1, fileSystem: fs);
        await store.WriteAsync(1, Content("good model"));
        fs.FreeBytes = 40; // the header fits, the content does not

        var error = await Assert.ThrowsAsync<StorageFaultException>(() => store.WriteAsync(2, Content(new string('x', 5000))));
        Assert.Equal(StorageFaultKind.NoSpace, error.Kind);
        Assert.Equal("snapshot", error.Operation);
        Assert.Contains("snapshot 2 could not be written", error.Message, StringComparison.Ordinal);
        Assert.Contains("'snapshot-0000000001.bin' is kept unchanged", error.Message, StringComparison.Ordinal);

        // The older snapshot is still the newest, intact (snapshotsToKeep 1 prunes only after a successful write).
        var only = Assert.Single(store.List());
        Assert.Equal(1, only.Sequence);
        Assert.Equal("good model", await ReadTextAsync(store, only));
        Assert.Single(Directory.GetFiles(dir.Path));

        // Space again: the retry writes snapshot 2 and prunes snapshot 1.
        fs.FreeBytes = null;
        await store.WriteAsync(2, Content("better model"));
        Assert.Equal([2L], store.List().Select(s => s.Sequence));
    }
}
