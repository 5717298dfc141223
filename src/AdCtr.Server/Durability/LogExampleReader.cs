using AdCtr.Learning.Features;
using AdCtr.Server.Api;
using AdCtr.Server.Joiner;
using AdCtr.Server.Model;
using AdCtr.Server.Storage;

namespace AdCtr.Server.Durability;

/// <summary>What a pass over the log found.</summary>
internal sealed record LogReadReport(long Records, long Examples, long Rejected, IReadOnlyList<LogCorruption> Corruptions);

/// <summary>
/// Turns example-log records back into encoded examples, in log order and in chunks, for replay and for batch
/// retraining. Both kinds of record are read: an NDJSON line of <c>/v1/examples</c> (first byte '{' or
/// whitespace), parsed and encoded exactly as the endpoint does, and a <see cref="JoinedExampleRecord"/>
/// (first byte 0xA1). A chunk never mixes the two kinds, so records are learned in the order they were appended.
/// </summary>
/// <param name="chunkSize">Examples per chunk at most; null: one chunk per batch as it was appended (replay: the server
/// learns the batches it acknowledged, so a replay rebuilds the model it had, bit for bit, issue 15).</param>
internal sealed class LogExampleReader(CtrEngine engine, int? chunkSize)
{
    private readonly int _chunk = Math.Clamp(chunkSize ?? int.MaxValue, 1, engine.Limits.MaxBatch);
    private readonly bool _byBatch = chunkSize is null;
    private readonly ulong _fingerprint = engine.Spec.Fingerprint();

    /// <summary>
    /// Reads records from <paramref name="from"/> to the log's end (or <paramref name="to"/>) and hands each chunk to
    /// <paramref name="onChunk"/> (the batch and the campaign ids are valid during the call only).
    /// Throws <see cref="LogCorruptionException"/> at damage unless <paramref name="skipCorrupt"/>.
    /// </summary>
    public async Task<LogReadReport> ReadAsync(ExampleLog log, LogPosition from, LogPosition? to, bool skipCorrupt, long maxExamples, Func<ExampleBatch, IReadOnlyDictionary<ulong, string>, ValueTask> onChunk, CancellationToken ct)
    {
        var corruptions = new List<LogCorruption>();
        long records = 0, examples = 0, rejected = 0;
        var ndjson = new MemoryStream();
        var ndjsonLines = 0;
        var binary = new ExampleBatch();
        var binaryIds = new Dictionary<ulong, string>();
        var x = new EncodedExample();

        async ValueTask FlushNdjson()
        {
            if (ndjsonLines == 0)
            {
                return;
            }

            var parsed = ExampleBodyParser.Parse(engine, ndjson.GetBuffer().AsMemory(0, (int)ndjson.Length));
            try
            {
                if (parsed.Error is not null)
                {
                    rejected += ndjsonLines;
                }
                else
                {
                    rejected += parsed.Rejected.Count;
                    if (parsed.Batch.Count > 0)
                    {
                        examples += parsed.Batch.Count;
                        await onChunk(parsed.Batch, parsed.CampaignIds).ConfigureAwait(false);
                    }
                }
            }
            finally
            {
                parsed.Dispose();
            }

            ndjson.SetLength(0);
            ndjsonLines = 0;
        }

        async ValueTask FlushBinary()
        {
            if (binary.Count == 0)
            {
                return;
            }

            examples += binary.Count;
            await onChunk(binary, binaryIds).ConfigureAwait(false);
            binary.Clear();
            binaryIds.Clear();
        }

        // ExampleLog.ReadFrom is a synchronous enumerator over a reusable buffer: each payload is copied or
        // decoded before the next MoveNext. Bounded by the log's end position at the time of the call.
        foreach (var record in log.ReadFrom(from, skipCorrupt, corruptions.Add))
        {
            ct.ThrowIfCancellationRequested();
            if (to is { } end && record.Position >= end)
            {
                break;
            }

            if (examples + ndjsonLines + binary.Count >= maxExamples)
            {
                break;
            }

            records++;
            var payload = record.Payload;
            if (payload.Span[0] == JoinedExampleRecord.Kind)
            {
                await FlushNdjson().ConfigureAwait(false);
                try
                {
                    var id = JoinedExampleRecord.Read(payload.Span, _fingerprint, x, out var label, out var weight, out var timestamp);
                    if (id is not null)
                    {
                        binaryIds.TryAdd(x.CampaignKey, id);
                    }

                    binary.Add(x, label, weight, timestamp);
                }
                catch (InvalidDataException)
                {
                    rejected++;
                }

                if (binary.Count >= _chunk || (_byBatch && record.EndsBatch))
                {
                    await FlushBinary().ConfigureAwait(false);
                }
            }
            else
            {
                await FlushBinary().ConfigureAwait(false);
                ndjson.Write(payload.Span);
                ndjson.WriteByte((byte)'\n');
                ndjsonLines++;
                if (ndjsonLines >= _chunk || (_byBatch && record.EndsBatch))
                {
                    await FlushNdjson().ConfigureAwait(false);
                }
            }
        }

        await FlushNdjson().ConfigureAwait(false);
        await FlushBinary().ConfigureAwait(false);
        return new LogReadReport(records, examples, rejected, corruptions);
    }
}
