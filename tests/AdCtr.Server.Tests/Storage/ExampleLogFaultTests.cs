using System.Buffers.Binary;
using AdCtr.Server.Storage;

namespace AdCtr.Server.Tests.Storage;

/// <summary>
/// Batches are all-or-nothing: an append cut short (crash, full disk, I/O error) is never read back in part, a
/// failed append is rolled back and the next one succeeds once the device takes writes again.
/// </summary>
public sealed class ExampleLogFaultTests
{
    private const int Header = ExampleLog.RecordHeaderBytes;

    private static StorageOptions Options(TempDirectory dir, long segmentBytes = 64 * 1024, FsyncPolicy policy = FsyncPolicy.Never) =>
        new() { Path = dir.Path, SegmentBytes = segmentBytes, FsyncPolicy = policy };

    private static byte[] Payload(int id, int length)
    {
        var bytes = new byte[length];
        for (var k = 0; k < length; k++)
        {
            bytes[k] = (byte)((id * 31) + (k * 7));
        }

        BinaryPrimitives.WriteInt32LittleEndian(bytes, id);
        return bytes;
    }

    private static ReadOnlyMemory<byte>[] Batch(int firstId, int count, int length)
    {
        var batch = new ReadOnlyMemory<byte>[count];
        for (var i = 0; i < count; i++)
        {
            batch[i] = Payload(firstId + i, length);
        }

        return batch;
    }

    private static List<int> Ids(ExampleLog log)
    {
        var ids = new List<int>();
        foreach (var record in log.ReadFrom(LogPosition.Zero))
        {
            ids.Add(BinaryPrimitives.ReadInt32LittleEndian(record.Payload.Span));
        }

        return ids;
    }

    [Fact]
    public async Task Open_BatchCutAtEveryByteOfItsLastFourRecords_DropsTheWholeBatch()
    {
        // Batch A (ids 0..4) committed, then batch B (ids 10..14), records of 8 + 20 bytes.
        using var source = new TempDirectory();
        await using (var log = ExampleLog.Open(Options(source)))
        {
            await log.AppendBatchAsync(Batch(0, 5, 20));
            await log.AppendBatchAsync(Batch(10, 5, 20));
        }

        var segment = await File.ReadAllBytesAsync(ExampleLog.SegmentPath(Path.Combine(source.Path, "log"), 0));
        const int Record = Header + 20;
        const int BatchB = 5 * Record;
        Assert.Equal(10 * Record, segment.Length);

        // Every cut inside batch B after its first record: B's complete records are flagged "continues" and its
        // last record is missing or torn, so all of B goes; A stays whole.
        for (var cut = BatchB + Record; cut < segment.Length; cut++)
        {
            using var dir = new TempDirectory();
            var logDir = Path.Combine(dir.Path, "log");
            Directory.CreateDirectory(logDir);
            await File.WriteAllBytesAsync(ExampleLog.SegmentPath(logDir, 0), segment[..cut]);
            await using var log = ExampleLog.Open(Options(dir));

            var completeOfB = (cut - BatchB) / Record;
            Assert.Equal([0, 1, 2, 3, 4], Ids(log));
            Assert.Equal(BatchB, log.EndPosition.Value);
            Assert.Equal(cut - BatchB, log.Recovery.TruncatedBytes);
            Assert.Equal(completeOfB, log.Recovery.UncommittedRecords);
            Assert.Equal(5, log.Recovery.RecordsInActiveSegment);
            var torn = (cut - BatchB) % Record != 0;
            Assert.Equal(torn ? ((cut - BatchB) % Record < Header ? LogDamageKind.TruncatedHeader : LogDamageKind.TruncatedPayload) : LogDamageKind.UncommittedBatch, log.Recovery.Damage);
            Assert.Equal(BatchB, new FileInfo(log.Recovery.ActiveSegmentPath).Length);

            // The client's retry of B lands where B began and reads back once.
            var retry = await log.AppendBatchAsync(Batch(10, 5, 20));
            Assert.Equal(BatchB, retry.Start.Value);
            Assert.Equal([0, 1, 2, 3, 4, 10, 11, 12, 13, 14], Ids(log));
        }
    }

    [Fact]
    public async Task Open_UnfinishedBatchSpanningSegments_DeletesItsSegmentsAndCutsWhereItBegan()
    {
        using var dir = new TempDirectory();
        var options = Options(dir, segmentBytes: 1024);
        await using (var log = ExampleLog.Open(options))
        {
            await log.AppendAsync(Payload(0, 100));
            // 30 records of 108 bytes: 9 per 1 KiB segment, so this batch spans four segments.
            await log.AppendBatchAsync(Batch(100, 30, 100));
            Assert.Equal(4, log.GetSegments().Count);
        }

        // Tear off the batch's last record: the batch is unfinished, and it began in the first segment.
        var logDir = Path.Combine(dir.Path, "log");
        var last = Directory.GetFiles(logDir, "examples-*.log").Max()!;
        var bytes = await File.ReadAllBytesAsync(last);
        await File.WriteAllBytesAsync(last, bytes[..^1]);

        await using (var log = ExampleLog.Open(options))
        {
            Assert.Equal([0], Ids(log));
            Assert.Equal(Header + 100, log.EndPosition.Value);
            Assert.Equal(30 * (Header + 100) - 1, log.Recovery.TruncatedBytes);
            Assert.Equal(29, log.Recovery.UncommittedRecords);
            var segment = Assert.Single(log.GetSegments());
            Assert.Equal(0, segment.FirstPosition.Value);
            Assert.Equal(Header + 100, segment.Length);
        }
    }

    [Fact]
    public async Task Open_LogWrittenWithoutBatchFraming_ReadsEveryRecord()
    {
        // Single appends carry no flag: a log of them (the format before batches were framed) is read whole.
        using var dir = new TempDirectory();
        await using (var log = ExampleLog.Open(Options(dir)))
        {
            for (var i = 0; i < 5; i++)
            {
                await log.AppendAsync(Payload(i, 30));
            }
        }

        await using var reopened = ExampleLog.Open(Options(dir));
        Assert.False(reopened.Recovery.Truncated);
        Assert.Equal([0, 1, 2, 3, 4], Ids(reopened));
    }

    [Fact]
    public async Task AppendBatchAsync_DiskFullMidBatch_FailsRollsBackAndSucceedsOnceSpaceIsFreed()
    {
        using var dir = new TempDirectory();
        var fs = new FaultInjectingFileSystem();
        var options = Options(dir);
        await using (var log = ExampleLog.Open(options, fileSystem: fs))
        {
            var first = await log.AppendBatchAsync(Batch(0, 5, 20));
            // Room for two and a half records of the next batch: a real full disk takes part of the write.
            fs.FreeBytes = (2 * (Header + 20)) + 10;
            var error = await Assert.ThrowsAsync<StorageFaultException>(async () => await log.AppendBatchAsync(Batch(10, 5, 20)));
            Assert.Equal(StorageFaultKind.NoSpace, error.Kind);
            Assert.Equal("append", error.Operation);
            Assert.Contains("no space left", error.Message, StringComparison.Ordinal);
            Assert.Contains(log.DirectoryPath, error.Message, StringComparison.Ordinal);
            Assert.NotNull(log.LastError);

            // Rolled back: the file ends where the acknowledged batch ended, and the space came back.
            Assert.Equal(first.End, log.EndPosition);
            Assert.Equal(first.End.Value, new FileInfo(ExampleLog.SegmentPath(log.DirectoryPath, 0)).Length);
            Assert.Equal((2 * (Header + 20)) + 10, fs.FreeBytes);
            Assert.Equal([0, 1, 2, 3, 4], Ids(log));

            // Still full: the retry fails the same way; freed: it succeeds where the failed one would have begun.
            fs.FreeBytes = 0;
            await Assert.ThrowsAsync<StorageFaultException>(async () => await log.AppendBatchAsync(Batch(10, 5, 20)));
            fs.FreeBytes = null;
            var retry = await log.AppendBatchAsync(Batch(10, 5, 20));
            Assert.Equal(first.End, retry.Start);
            Assert.Null(log.LastError);
        }

        await using var reopened = ExampleLog.Open(options);
        Assert.False(reopened.Recovery.Truncated);
        Assert.Equal([0, 1, 2, 3, 4, 10, 11, 12, 13, 14], Ids(reopened));
    }

    [Fact]
    public async Task AppendBatchAsync_DiskFullAfterSegmentRolls_DeletesTheNewSegmentsAndRetries()
    {
        using var dir = new TempDirectory();
        var fs = new FaultInjectingFileSystem();
        var options = Options(dir, segmentBytes: 1024);
        await using var log = ExampleLog.Open(options, fileSystem: fs);
        var first = await log.AppendAsync(Payload(0, 100));
        // The 30-record batch needs four segments; the disk fills in the third.
        fs.FreeBytes = 2000;
        await Assert.ThrowsAsync<StorageFaultException>(async () => await log.AppendBatchAsync(Batch(100, 30, 100)));
        var segment = Assert.Single(log.GetSegments());
        Assert.True(segment.IsActive);
        Assert.Equal(Header + 100, segment.Length);
        Assert.Equal(Header + 100, log.EndPosition.Value);
        Assert.True(log.DurablePosition <= log.EndPosition);

        fs.FreeBytes = null;
        var retry = await log.AppendBatchAsync(Batch(100, 30, 100));
        Assert.Equal(first.Value + Header + 100, retry.Start.Value);
        var ids = Ids(log);
        Assert.Equal(31, ids.Count);
        Assert.Equal(Enumerable.Range(100, 30), ids.Skip(1));
    }

    [Fact]
    public async Task AppendAsync_FsyncFailsWithIoError_FailsAsIoErrorAndIsRolledBack()
    {
        using var dir = new TempDirectory();
        var fs = new FaultInjectingFileSystem();
        var options = Options(dir, policy: FsyncPolicy.Always);
        await using var log = ExampleLog.Open(options, fileSystem: fs);
        await log.AppendAsync(Payload(0, 10));
        var faults = new List<StorageFaultException>();
        log.FaultObserved = faults.Add;
        fs.IoError = true;
        var error = await Assert.ThrowsAsync<StorageFaultException>(async () => await log.AppendAsync(Payload(1, 10)));
        Assert.Equal(StorageFaultKind.IoError, error.Kind);
        Assert.Equal("append", error.Operation); // the write itself failed first
        Assert.Equal(Header + 10, log.EndPosition.Value);
        var observed = Assert.Single(faults);
        Assert.Equal(StorageFaultKind.IoError, observed.Kind);

        fs.IoError = false;
        Assert.Equal(Header + 10, (await log.AppendAsync(Payload(2, 10))).Value);
        Assert.Equal([0, 2], Ids(log));
    }

    [Fact]
    public async Task AppendAsync_RollbackFailsToo_LaterAppendsFailUntilItSucceeds_AndReopenDropsThePartialBatch()
    {
        using var dir = new TempDirectory();
        var fs = new FaultInjectingFileSystem();
        var options = Options(dir);
        await using (var log = ExampleLog.Open(options, fileSystem: fs))
        {
            await log.AppendBatchAsync(Batch(0, 3, 20));
            fs.FreeBytes = 50;
            fs.TruncateFails = true;
            await Assert.ThrowsAsync<StorageFaultException>(async () => await log.AppendBatchAsync(Batch(10, 3, 20)));
            // The partial batch is still in the file; nothing may be appended after it.
            fs.FreeBytes = null;
            var blocked = await Assert.ThrowsAsync<StorageFaultException>(async () => await log.AppendBatchAsync(Batch(20, 3, 20)));
            Assert.Equal("rollback", blocked.Operation);
            Assert.Equal([0, 1, 2], Ids(log));
        }

        // A crash now: the partial batch in the file is unfinished, so opening cuts it off.
        await using (var reopened = ExampleLog.Open(options))
        {
            Assert.Equal(LogDamageKind.TruncatedPayload, reopened.Recovery.Damage);
            Assert.Equal(1, reopened.Recovery.UncommittedRecords);
            Assert.Equal([0, 1, 2], Ids(reopened));
        }

        // Without the crash, the next append retries the rollback and goes on once truncation works again.
        using var dir2 = new TempDirectory();
        var fs2 = new FaultInjectingFileSystem();
        await using var live = ExampleLog.Open(Options(dir2), fileSystem: fs2);
        await live.AppendBatchAsync(Batch(0, 3, 20));
        fs2.FreeBytes = 50;
        fs2.TruncateFails = true;
        await Assert.ThrowsAsync<StorageFaultException>(async () => await live.AppendBatchAsync(Batch(10, 3, 20)));
        fs2.FreeBytes = null;
        fs2.TruncateFails = false;
        var range = await live.AppendBatchAsync(Batch(20, 3, 20));
        Assert.Equal(3 * (Header + 20), range.Start.Value);
        Assert.Equal([0, 1, 2, 20, 21, 22], Ids(live));
    }

    [Fact]
    public async Task ProbeAsync_WhileFull_FailsAndAfterSpaceIsFreed_ClearsLastError()
    {
        using var dir = new TempDirectory();
        var fs = new FaultInjectingFileSystem();
        await using var log = ExampleLog.Open(Options(dir), fileSystem: fs);
        fs.FreeBytes = 0;
        await Assert.ThrowsAsync<StorageFaultException>(async () => await log.AppendBatchAsync(Batch(0, 3, 20)));
        Assert.NotNull(log.LastError);

        var probe = await Assert.ThrowsAsync<StorageFaultException>(async () => await log.ProbeAsync());
        Assert.Equal("probe", probe.Operation);
        Assert.Equal(StorageFaultKind.NoSpace, probe.Kind);
        Assert.NotNull(log.LastError);
        Assert.False(File.Exists(Path.Combine(log.DirectoryPath, ".probe")));

        fs.FreeBytes = 1 << 20;
        await log.ProbeAsync();
        Assert.Null(log.LastError);
        Assert.Equal(1 << 20, fs.FreeBytes); // the probe file was deleted again
        Assert.False(File.Exists(Path.Combine(log.DirectoryPath, ".probe")));
    }

    [Fact]
    public async Task Open_LockHeldByAnotherLog_ThrowsStartupErrorNamingTheLockFile()
    {
        using var dir = new TempDirectory();
        await using var log = ExampleLog.Open(Options(dir));
        var error = Assert.Throws<StorageStartupException>(() => ExampleLog.Open(Options(dir)));
        Assert.Contains(Path.Combine(log.DirectoryPath, ".lock"), error.Message, StringComparison.Ordinal);
        Assert.Contains("in use by another running AdCtr server", error.Message, StringComparison.Ordinal);
    }
}
