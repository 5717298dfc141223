using System.Buffers.Binary;
using AdCtr.Server.Storage;

namespace AdCtr.Server.Tests.Storage;

public sealed class ExampleLogTests
{
    private const int Header = ExampleLog.RecordHeaderBytes;

    private static StorageOptions Options(TempDirectory dir, long segmentBytes = 1024, FsyncPolicy policy = FsyncPolicy.Never) =>
        new() { Path = dir.Path, SegmentBytes = segmentBytes, FsyncPolicy = policy };

    /// <summary>Deterministic payload: first 4 bytes are the id, the rest a pattern derived from it.</summary>
    private static byte[] Payload(int id, int length)
    {
        var bytes = new byte[length];
        for (var k = 0; k < length; k++)
        {
            bytes[k] = (byte)((id * 31) + (k * 7));
        }

        if (length >= 4)
        {
            BinaryPrimitives.WriteInt32LittleEndian(bytes, id);
        }

        return bytes;
    }

    private static List<(LogPosition Position, byte[] Payload)> ReadAll(ExampleLog log, LogPosition from = default)
    {
        var result = new List<(LogPosition, byte[])>();
        foreach (var record in log.ReadFrom(from))
        {
            result.Add((record.Position, record.Payload.ToArray()));
        }

        return result;
    }

    [Fact]
    public async Task AppendAsync_ManyRecordsAcrossSegmentRolls_ReadBackInOrderWithExactPositions()
    {
        using var dir = new TempDirectory();
        var rng = new Random(42);
        var payloads = new List<byte[]>();
        var positions = new List<LogPosition>();
        await using (var log = ExampleLog.Open(Options(dir)))
        {
            for (var i = 0; i < 300; i++)
            {
                var payload = Payload(i, rng.Next(1, 120));
                payloads.Add(payload);
                positions.Add(await log.AppendAsync(payload));
            }

            // A position is the global byte offset of the record header: the sum of the sizes of the records before it.
            long expected = 0;
            for (var i = 0; i < payloads.Count; i++)
            {
                Assert.Equal(expected, positions[i].Value);
                expected += Header + payloads[i].Length;
            }

            Assert.Equal(expected, log.EndPosition.Value);

            var segments = log.GetSegments();
            // Each closed segment is at most 1024 bytes, and was closed because the next record (at most 8 + 119
            // bytes) did not fit, so it holds more than 1024 - 127 bytes; hence at least ceil(total / 1024) segments.
            Assert.True(segments.Count >= (int)Math.Ceiling(expected / 1024.0), "segments: " + segments.Count);
            for (var s = 0; s < segments.Count; s++)
            {
                Assert.Equal(s == 0 ? 0 : segments[s - 1].EndPosition.Value, segments[s].FirstPosition.Value);
                Assert.Equal(s == segments.Count - 1, segments[s].IsActive);
                if (s < segments.Count - 1)
                {
                    Assert.InRange(segments[s].Length, 1024 - 127 + 1, 1024);
                }
            }

            AssertRecords(ReadAll(log), positions, payloads);
        }

        // Reopening finds the same records and appends after them.
        await using (var log = ExampleLog.Open(Options(dir)))
        {
            Assert.False(log.Recovery.Truncated);
            var next = await log.AppendAsync(Payload(300, 10));
            Assert.Equal(positions[^1].Value + Header + payloads[^1].Length, next.Value);
            positions.Add(next);
            payloads.Add(Payload(300, 10));
            AssertRecords(ReadAll(log), positions, payloads);
        }
    }

    [Fact]
    public async Task ReadFrom_PositionOfMiddleRecord_YieldsThatRecordAndAllAfter()
    {
        using var dir = new TempDirectory();
        await using var log = ExampleLog.Open(Options(dir));
        var positions = new List<LogPosition>();
        for (var i = 0; i < 40; i++)
        {
            positions.Add(await log.AppendAsync(Payload(i, 50)));
        }

        var records = ReadAll(log, positions[17]);
        Assert.Equal(23, records.Count);
        for (var i = 0; i < records.Count; i++)
        {
            Assert.Equal(positions[17 + i], records[i].Position);
            Assert.Equal(Payload(17 + i, 50), records[i].Payload);
        }

        Assert.Empty(ReadAll(log, log.EndPosition));
        Assert.Throws<ArgumentOutOfRangeException>(() => log.ReadFrom(new LogPosition(log.EndPosition.Value + 1)));
    }

    [Fact]
    public async Task AppendBatchAsync_RecordsSpanningRolls_ReturnsContiguousRange()
    {
        using var dir = new TempDirectory();
        await using var log = ExampleLog.Open(Options(dir));
        var first = await log.AppendAsync(Payload(-1, 20));
        var batch = new List<ReadOnlyMemory<byte>>();
        for (var i = 0; i < 100; i++)
        {
            batch.Add(Payload(i, 30 + (i % 7)));
        }

        var range = await log.AppendBatchAsync(batch);

        long bytes = 0;
        foreach (var payload in batch)
        {
            bytes += Header + payload.Length;
        }

        Assert.Equal(first.Value + Header + 20, range.Start.Value);
        Assert.Equal(range.Start.Value + bytes, range.End.Value);
        Assert.Equal(100, range.Count);
        Assert.Equal(range.End, log.EndPosition);
        var records = ReadAll(log, range.Start);
        Assert.Equal(100, records.Count);
        for (var i = 0; i < 100; i++)
        {
            Assert.Equal(batch[i].ToArray(), records[i].Payload);
        }

        // 100 records of 38..44 bytes (about 4.1 KB) cannot fit in one 1 KiB segment.
        Assert.True(log.GetSegments().Count >= 4);
    }

    [Fact]
    public async Task AppendAsync_EightConcurrentWriters_EveryRecordReadBackExactlyOnceInPositionOrder()
    {
        const int Writers = 8;
        const int PerWriter = 5000;
        using var dir = new TempDirectory();
        await using var log = ExampleLog.Open(Options(dir, segmentBytes: 64 * 1024));
        var returned = new LogPosition[Writers][];
        var tasks = new Task[Writers];
        for (var w = 0; w < Writers; w++)
        {
            var writer = w;
            returned[writer] = new LogPosition[PerWriter];
            tasks[w] = Task.Run(async () =>
            {
                if (writer % 2 == 0)
                {
                    for (var i = 0; i < PerWriter; i++)
                    {
                        returned[writer][i] = await log.AppendAsync(Record(writer, i));
                    }
                }
                else
                {
                    // Odd writers use batches of 100: record k of a batch sits at Start + k * 16.
                    for (var b = 0; b < PerWriter / 100; b++)
                    {
                        var batch = new ReadOnlyMemory<byte>[100];
                        for (var k = 0; k < 100; k++)
                        {
                            batch[k] = Record(writer, (b * 100) + k);
                        }

                        var range = await log.AppendBatchAsync(batch);
                        for (var k = 0; k < 100; k++)
                        {
                            returned[writer][(b * 100) + k] = new LogPosition(range.Start.Value + (k * 16));
                        }
                    }
                }
            });
        }

        await Task.WhenAll(tasks);

        var next = new int[Writers];
        long expectedPosition = 0;
        var count = 0;
        foreach (var record in log.ReadFrom(LogPosition.Zero))
        {
            var writer = BinaryPrimitives.ReadInt32LittleEndian(record.Payload.Span);
            var sequence = BinaryPrimitives.ReadInt32LittleEndian(record.Payload.Span[4..]);
            // Each writer awaits an append before the next one, so its records appear in its own order.
            Assert.Equal(next[writer], sequence);
            Assert.Equal(returned[writer][sequence], record.Position);
            Assert.Equal(expectedPosition, record.Position.Value);
            next[writer]++;
            expectedPosition += 16;
            count++;
        }

        Assert.Equal(Writers * PerWriter, count);
        Assert.All(next, n => Assert.Equal(PerWriter, n));

        static byte[] Record(int writer, int sequence)
        {
            var bytes = new byte[8];
            BinaryPrimitives.WriteInt32LittleEndian(bytes, writer);
            BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4), sequence);
            return bytes;
        }
    }

    /// <summary>Three records (payloads 10, 20, 30 bytes) in one segment, written and closed; returns the segment bytes.</summary>
    private static async Task<byte[]> ThreeRecordSegmentAsync()
    {
        using var dir = new TempDirectory();
        await using (var log = ExampleLog.Open(Options(dir, policy: FsyncPolicy.Always)))
        {
            await log.AppendAsync(Payload(0, 10));
            await log.AppendAsync(Payload(1, 20));
            await log.AppendAsync(Payload(2, 30));
        }

        return await File.ReadAllBytesAsync(ExampleLog.SegmentPath(Path.Combine(dir.Path, "log"), 0));
    }

    private static async Task<ExampleLog> OpenWithSegmentAsync(TempDirectory dir, byte[] segment)
    {
        var logDir = Path.Combine(dir.Path, "log");
        Directory.CreateDirectory(logDir);
        await File.WriteAllBytesAsync(ExampleLog.SegmentPath(logDir, 0), segment);
        return ExampleLog.Open(Options(dir));
    }

    [Fact]
    public async Task Open_TailTornAtEveryByteOfLastRecord_RecoversExactlyTheRecordsBefore()
    {
        var segment = await ThreeRecordSegmentAsync();
        const int LastStart = (Header + 10) + (Header + 20); // 46
        Assert.Equal(LastStart + Header + 30, segment.Length);
        for (var cut = LastStart; cut < segment.Length; cut++)
        {
            using var dir = new TempDirectory();
            await using var log = await OpenWithSegmentAsync(dir, segment[..cut]);

            var expectedDamage = cut == LastStart ? LogDamageKind.None
                : cut < LastStart + Header ? LogDamageKind.TruncatedHeader
                : LogDamageKind.TruncatedPayload;
            Assert.Equal(expectedDamage, log.Recovery.Damage);
            Assert.Equal(cut - LastStart, log.Recovery.TruncatedBytes);
            Assert.Equal(2, log.Recovery.RecordsInActiveSegment);
            Assert.Equal(LastStart, log.EndPosition.Value);
            Assert.Equal(LastStart, new FileInfo(log.Recovery.ActiveSegmentPath).Length);

            // The file was cut back: a new append lands right after record 1 and reads back cleanly.
            var position = await log.AppendAsync(Payload(9, 5));
            Assert.Equal(LastStart, position.Value);
            var records = ReadAll(log);
            Assert.Equal(3, records.Count);
            Assert.Equal(Payload(0, 10), records[0].Payload);
            Assert.Equal(Payload(1, 20), records[1].Payload);
            Assert.Equal(Payload(9, 5), records[2].Payload);
        }
    }

    [Fact]
    public async Task Open_FlippedByteInTailPayloadOrChecksum_DetectedByCrcAndTruncated()
    {
        var segment = await ThreeRecordSegmentAsync();
        const int LastStart = 46;
        // Bytes 4..7 of the header hold the CRC, then 30 payload bytes.
        for (var index = LastStart + 4; index < segment.Length; index++)
        {
            var damaged = (byte[])segment.Clone();
            damaged[index] ^= 0x10;
            using var dir = new TempDirectory();
            await using var log = await OpenWithSegmentAsync(dir, damaged);
            Assert.Equal(LogDamageKind.ChecksumMismatch, log.Recovery.Damage);
            Assert.Equal(Header + 30, log.Recovery.TruncatedBytes);
            Assert.Equal(2, ReadAll(log).Count);
        }
    }

    [Fact]
    public async Task Open_ZeroFilledTail_DetectedAsInvalidLengthAndTruncated()
    {
        var segment = await ThreeRecordSegmentAsync();
        using var dir = new TempDirectory();
        await using var log = await OpenWithSegmentAsync(dir, [.. segment, .. new byte[4096]]);
        Assert.Equal(LogDamageKind.InvalidLength, log.Recovery.Damage);
        Assert.Equal(4096, log.Recovery.TruncatedBytes);
        Assert.Equal(3, ReadAll(log).Count);
    }

    /// <summary>30 records of 100-byte payloads in 1 KiB segments: 9 records (972 bytes) per segment, so segments start at 0, 972, 1944, 2916.</summary>
    private static async Task<List<byte[]>> FourSegmentLogAsync(TempDirectory dir)
    {
        var payloads = new List<byte[]>();
        await using var log = ExampleLog.Open(Options(dir));
        for (var i = 0; i < 30; i++)
        {
            payloads.Add(Payload(i, 100));
            await log.AppendAsync(payloads[i]);
        }

        Assert.Equal([0L, 972, 1944, 2916], log.GetSegments().Select(s => s.FirstPosition.Value));
        return payloads;
    }

    [Fact]
    public async Task ReadFrom_CorruptRecordInOlderSegment_StopsWithErrorNamingFileAndOffset()
    {
        using var dir = new TempDirectory();
        var payloads = await FourSegmentLogAsync(dir);
        var second = ExampleLog.SegmentPath(Path.Combine(dir.Path, "log"), 972);
        // Record 13 is the 5th record of the second segment: file offset 4 * 108 = 432, position 972 + 432 = 1404.
        var bytes = await File.ReadAllBytesAsync(second);
        bytes[432 + Header + 50] ^= 0xFF;
        await File.WriteAllBytesAsync(second, bytes);

        await using var log = ExampleLog.Open(Options(dir));
        Assert.False(log.Recovery.Truncated); // only the active (last) segment is scanned on open

        var read = new List<byte[]>();
        var error = Assert.Throws<LogCorruptionException>(() =>
        {
            foreach (var record in log.ReadFrom(LogPosition.Zero))
            {
                read.Add(record.Payload.ToArray());
            }
        });
        Assert.Equal(13, read.Count);
        Assert.Equal(second, error.Corruption.SegmentPath);
        Assert.Equal(432, error.Corruption.SegmentOffset);
        Assert.Equal(1404, error.Corruption.Position.Value);
        Assert.Equal(LogDamageKind.ChecksumMismatch, error.Corruption.Kind);
        Assert.Contains(second, error.Message, StringComparison.Ordinal);
        Assert.Contains("offset 432", error.Message, StringComparison.Ordinal);

        // With skipCorrupt the rest of that segment (972 - 432 = 540 bytes, records 13..17) is skipped and reading goes on.
        var reported = new List<LogCorruption>();
        var skipped = new List<byte[]>();
        foreach (var record in log.ReadFrom(LogPosition.Zero, skipCorrupt: true, onCorruption: reported.Add))
        {
            skipped.Add(record.Payload.ToArray());
        }

        var expected = payloads.Take(13).Concat(payloads.Skip(18)).ToList();
        Assert.Equal(expected, skipped);
        var only = Assert.Single(reported);
        Assert.Equal(540, only.SkippedBytes);
    }

    [Fact]
    public async Task ReadFrom_MissingMiddleSegment_StopsWithMissingDataError()
    {
        using var dir = new TempDirectory();
        await FourSegmentLogAsync(dir);
        File.Delete(ExampleLog.SegmentPath(Path.Combine(dir.Path, "log"), 972));
        await using var log = ExampleLog.Open(Options(dir));

        var error = Assert.Throws<LogCorruptionException>(() => log.ReadFrom(LogPosition.Zero).Count());
        Assert.Equal(LogDamageKind.MissingData, error.Corruption.Kind);
        Assert.Equal(972, error.Corruption.Position.Value);
        Assert.Equal(972, error.Corruption.SkippedBytes);
    }

    private static readonly DateTimeOffset Now = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);

    /// <summary>The four-segment log with closed segments last written 10 h, 5 h and 1 h before <see cref="Now"/>.</summary>
    private static async Task<ExampleLog> RetentionLogAsync(TempDirectory dir, long? retainBytes, double? retainHours)
    {
        await FourSegmentLogAsync(dir);
        var logDir = Path.Combine(dir.Path, "log");
        File.SetLastWriteTimeUtc(ExampleLog.SegmentPath(logDir, 0), Now.AddHours(-10).UtcDateTime);
        File.SetLastWriteTimeUtc(ExampleLog.SegmentPath(logDir, 972), Now.AddHours(-5).UtcDateTime);
        File.SetLastWriteTimeUtc(ExampleLog.SegmentPath(logDir, 1944), Now.AddHours(-1).UtcDateTime);
        var options = Options(dir);
        options.RetainBytes = retainBytes;
        options.RetainHours = retainHours;
        return ExampleLog.Open(options, new ManualTimeProvider(Now));
    }

    [Fact]
    public async Task ApplyRetention_ByAge_DeletesOnlySegmentsOlderThanLimit()
    {
        using var dir = new TempDirectory();
        await using var log = await RetentionLogAsync(dir, retainBytes: null, retainHours: 4);
        var result = log.ApplyRetention(log.EndPosition);
        Assert.Equal([0L, 972], result.Deleted.Select(s => s.FirstPosition.Value));
        Assert.Equal(2 * 972, result.DeletedBytes);
        Assert.Equal([1944L, 2916], log.GetSegments().Select(s => s.FirstPosition.Value));
        Assert.Throws<ArgumentOutOfRangeException>(() => log.ReadFrom(LogPosition.Zero));
        Assert.Equal(12, log.ReadFrom(new LogPosition(1944)).Count());
    }

    [Fact]
    public async Task ApplyRetention_BySize_DeletesOldestUntilWithinLimit()
    {
        using var dir = new TempDirectory();
        // Total 3 * 972 + 324 = 3240 bytes: deleting two segments leaves 1296 <= 2000, one would leave 2268 > 2000.
        await using var log = await RetentionLogAsync(dir, retainBytes: 2000, retainHours: null);
        var result = log.ApplyRetention(log.EndPosition);
        Assert.Equal([0L, 972], result.Deleted.Select(s => s.FirstPosition.Value));
        Assert.Equal(1296, result.RemainingBytes);
    }

    [Fact]
    public async Task ApplyRetention_ProtectedPosition_KeepsSegmentsHoldingIt()
    {
        using var dir = new TempDirectory();
        await using var log = await RetentionLogAsync(dir, retainBytes: 1, retainHours: null);
        // Position 1000 lies in the second segment [972, 1944): only the first ends at or before it.
        var result = log.ApplyRetention(new LogPosition(1000));
        Assert.Equal([0L], result.Deleted.Select(s => s.FirstPosition.Value));
    }

    [Fact]
    public async Task ApplyRetention_EverythingEligible_NeverDeletesActiveSegment()
    {
        using var dir = new TempDirectory();
        await using var log = await RetentionLogAsync(dir, retainBytes: 1, retainHours: 0.001);
        var result = log.ApplyRetention(log.EndPosition);
        Assert.Equal(3, result.Deleted.Count);
        var remaining = Assert.Single(log.GetSegments());
        Assert.True(remaining.IsActive);
        Assert.Equal(324, result.RemainingBytes);
    }

    [Fact]
    public async Task ApplyRetention_NoLimitsConfigured_DeletesNothing()
    {
        using var dir = new TempDirectory();
        await using var log = await RetentionLogAsync(dir, retainBytes: null, retainHours: null);
        Assert.Empty(log.ApplyRetention(log.EndPosition).Deleted);
        Assert.Equal(4, log.GetSegments().Count);
    }

    [Fact]
    public async Task FsyncPolicy_Always_AppendCompletesOnlyWhenDurable()
    {
        using var dir = new TempDirectory();
        await using var log = ExampleLog.Open(Options(dir, policy: FsyncPolicy.Always));
        await log.AppendAsync(Payload(0, 100));
        Assert.Equal(108, log.DurablePosition.Value);
        Assert.Equal(108, log.EndPosition.Value);
    }

    [Fact]
    public async Task FsyncPolicy_Never_AppendCompletesBeforeFsyncAndFlushAsyncMakesItDurable()
    {
        using var dir = new TempDirectory();
        await using var log = ExampleLog.Open(Options(dir, policy: FsyncPolicy.Never));
        await log.AppendAsync(Payload(0, 100));
        Assert.Equal(108, log.EndPosition.Value);
        Assert.Equal(0, log.DurablePosition.Value);
        Assert.Equal(108, (await log.FlushAsync()).Value);
        Assert.Equal(108, log.DurablePosition.Value);
    }

    [Fact]
    public async Task FsyncPolicy_Interval_FsyncsWhenTheIntervalElapses()
    {
        using var dir = new TempDirectory();
        var time = new ManualTimeProvider(Now);
        var options = Options(dir, policy: FsyncPolicy.Interval);
        options.FsyncIntervalMs = 50;
        await using var log = ExampleLog.Open(options, time);
        var synced = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        log.SyncedForTest = position => synced.TrySetResult(position);

        await log.AppendAsync(Payload(0, 100));
        // The clock has not moved since open, so the 50 ms interval has not elapsed: written, not yet fsynced.
        Assert.Equal(108, log.EndPosition.Value);
        Assert.Equal(0, log.DurablePosition.Value);

        time.Advance(TimeSpan.FromMilliseconds(50));
        // The 10 s is a safety deadline only; the fsync follows the clock advance, not wall time.
        Assert.Equal(108, await synced.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(108, log.DurablePosition.Value);
    }

    [Fact]
    public async Task Open_DirectoryAlreadyOpen_Throws()
    {
        using var dir = new TempDirectory();
        await using var log = ExampleLog.Open(Options(dir));
        Assert.ThrowsAny<IOException>(() => ExampleLog.Open(Options(dir)));
    }

    [Fact]
    public async Task AppendAsync_EmptyPayload_Refused()
    {
        using var dir = new TempDirectory();
        await using var log = ExampleLog.Open(Options(dir));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await log.AppendAsync(ReadOnlyMemory<byte>.Empty));
    }

    [Fact]
    public async Task AppendAsync_AfterDispose_Throws()
    {
        using var dir = new TempDirectory();
        var log = ExampleLog.Open(Options(dir));
        await log.DisposeAsync();
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await log.AppendAsync(new byte[] { 1 }));
    }

    private static void AssertRecords(List<(LogPosition Position, byte[] Payload)> records, List<LogPosition> positions, List<byte[]> payloads)
    {
        Assert.Equal(payloads.Count, records.Count);
        for (var i = 0; i < records.Count; i++)
        {
            Assert.Equal(positions[i], records[i].Position);
            Assert.Equal(payloads[i], records[i].Payload);
        }
    }
}
