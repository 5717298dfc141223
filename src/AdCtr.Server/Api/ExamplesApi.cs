using System.Buffers;
using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using AdCtr.Learning.Readers;
using AdCtr.Server.Hosting;
using AdCtr.Server.Model;

namespace AdCtr.Server.Api;

/// <summary>
/// <c>POST /v1/examples</c>: labeled examples as NDJSON or a JSON array, each line
/// <c>{"context", "adId", "campaignId", "advertiserId"?, "features", "label", "weight"?, "timestamp"?}</c>.
/// Each line is accepted or rejected whole (with its line number and reason); accepted ones are learned
/// before the response, so a prediction made after it sees them.
/// </summary>
internal static class ExamplesApi
{
    /// <summary>
    /// Optional request header naming a batch (draft-ietf-httpapi-idempotency-key-header). In a cluster a batch sent
    /// again with the same key after a lost or failed answer is journaled, and so learned, once.
    /// </summary>
    public const string IdempotencyKeyHeader = "Idempotency-Key";

    public const int MaxIdempotencyKeyLength = 255;

    public static RouteGroupBuilder MapExamplesApi(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/v1");
        group.MapPost("/examples", IngestAsync)
            .WithName("Examples")
            .WithSummary("Learn labeled examples (NDJSON or a JSON array); per-line results")
            .Accepts<ExampleDocument[]>("application/json", "application/x-ndjson")
            .Produces<ExamplesResponse>()
            .Produces<ExamplesResponse>(StatusCodes.Status202Accepted)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable)
            .ProducesProblem(StatusCodes.Status507InsufficientStorage);
        return group;
    }

    internal static async Task<IResult> IngestAsync(HttpContext context, CtrEngine engine, ServerMetrics metrics, ExampleIngestor ingestor)
    {
        using var body = await RequestBody.ReadAsync(context.Request, engine.Limits.MaxBodyBytes, context.RequestAborted).ConfigureAwait(false);
        if (body.Error is not null)
        {
            metrics.Batch(IngestionEndpoint.Examples, IngestionResult.Rejected);
            return body.Error;
        }

        var parsed = ExampleBodyParser.Parse(engine, body.Memory);
        if (parsed.Error is not null)
        {
            metrics.Batch(IngestionEndpoint.Examples, IngestionResult.Rejected);
            return parsed.Error;
        }

        var key = context.Request.Headers[IdempotencyKeyHeader].ToString();
        if (key.Length > MaxIdempotencyKeyLength)
        {
            parsed.Dispose();
            metrics.Batch(IngestionEndpoint.Examples, IngestionResult.Rejected);
            return Problems.BadRequest("invalid Idempotency-Key", "the Idempotency-Key header is longer than " + MaxIdempotencyKeyLength + " characters");
        }

        var learned = true;
        try
        {
            if (parsed.Batch.Count > 0)
            {
                try
                {
                    learned = await ingestor.IngestAsync(parsed.Batch, parsed.CampaignIds, parsed.Lines, key.Length == 0 ? null : key, context.RequestAborted).ConfigureAwait(false);
                    if (!learned)
                    {
                        parsed.Abandon(); // calls still running may hold the batch
                        context.RequestServices.GetService<Cluster.ClusterMetrics>()?.Unlearned();
                    }
                }
                catch (Exception e) when (IngestionFailures.Classify(e, context) is { } failure)
                {
                    // Shutting down, or the example log's disk is full or failing: nothing of this batch was logged
                    // or learned (the append comes first and is all-or-nothing); the client may send it again.
                    metrics.Batch(IngestionEndpoint.Examples, IngestionResult.Unavailable);
                    parsed.Abandon();
                    return IngestionFailures.ToResult(context, failure);
                }
                catch (Exception e) when (GrainFailures.IsUnavailable(e))
                {
                    // Not fully learned: not acknowledged (the lines are in the log and replayed at recovery). A call
                    // that timed out may still be reading the batch: it is not reused.
                    parsed.Abandon();
                    return GrainFailures.Problem(e);
                }
                catch
                {
                    parsed.Abandon();
                    throw;
                }
            }

            metrics.ExamplesRejected(parsed.Rejected.Count);
            metrics.Batch(IngestionEndpoint.Examples, ServerMetrics.ResultOf(parsed.Batch.Count, parsed.Rejected.Count));
            var response = new ExamplesResponse(parsed.Batch.Count, parsed.Rejected);
            return parsed.Batch.Count == 0
                ? TypedResults.Problem(
                    detail: "no line of the batch is a valid example; see 'rejected'",
                    statusCode: StatusCodes.Status400BadRequest,
                    title: "invalid examples",
                    type: "https://adctr.dev/problems/bad-request",
                    extensions: new Dictionary<string, object?> { ["rejected"] = parsed.Rejected })
                : learned
                    ? TypedResults.Ok(response)
                    : TypedResults.Accepted((string?)null, response);
        }
        finally
        {
            parsed.Dispose();
        }
    }
}

/// <summary>Parses and encodes an examples body into an <see cref="ExampleBatch"/>; shared with replay.</summary>
internal static class ExampleBodyParser
{
    /// <summary>Results kept for reuse: a batch of 1,000 examples fills arrays of about 50,000 features, which
    /// would otherwise be allocated on the large object heap, and collected with gen 2, on every request.</summary>
    private static readonly ConcurrentQueue<Result> Pool = new();
    private static readonly int MaxPooled = 2 * Environment.ProcessorCount;
    private static int _pooled;

    /// <summary>
    /// One parsed body. Disposing it returns it to the pool unless <see cref="Abandon"/> was called (a grain call
    /// that failed or timed out may still read its batch). <see cref="Rejected"/> is a new list each time: a
    /// response may still hold the previous one.
    /// </summary>
    internal sealed class Result : IDisposable
    {
        private bool _abandoned;

        public ExampleBatch Batch { get; } = new();

        public Dictionary<ulong, string> CampaignIds { get; } = [];

        public List<RejectedLine> Rejected { get; private set; } = [];

        /// <summary>Raw NDJSON bytes of each accepted line (for the example log).</summary>
        public List<ReadOnlyMemory<byte>> Lines { get; } = [];

        /// <summary>Start offset of each line of the body (scratch of the parse).</summary>
        internal List<int> LineStarts { get; } = [];

        public Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult? Error { get; set; }

        public byte[]? Rented { get; set; }

        /// <summary>The batch may still be in use: never reuse this result.</summary>
        public void Abandon() => _abandoned = true;

        public void Dispose()
        {
            if (Rented is not null)
            {
                ArrayPool<byte>.Shared.Return(Rented);
                Rented = null;
            }

            if (_abandoned || Interlocked.Increment(ref _pooled) > MaxPooled)
            {
                if (!_abandoned)
                {
                    Interlocked.Decrement(ref _pooled);
                }

                return;
            }

            Batch.Clear();
            CampaignIds.Clear();
            Rejected = [];
            Lines.Clear();
            LineStarts.Clear();
            Error = null;
            Pool.Enqueue(this);
        }
    }

    private static Result Rent()
    {
        if (Pool.TryDequeue(out var result))
        {
            Interlocked.Decrement(ref _pooled);
            return result;
        }

        return new Result();
    }

    public static Result Parse(CtrEngine engine, ReadOnlyMemory<byte> body)
    {
        var result = Rent();
        var ndjson = body;
        var first = FirstNonSpace(body.Span);
        if (first < 0)
        {
            result.Error = Problems.BadRequest("invalid examples", "the batch is empty");
            return result;
        }

        if (body.Span[first] == (byte)'[')
        {
            var converted = ArrayToNdjson(body.Span, out var length, out var error);
            if (converted is null)
            {
                result.Error = Problems.BadRequest("invalid examples", error);
                return result;
            }

            result.Rented = converted;
            ndjson = converted.AsMemory(0, length);
        }

        var maxBatch = engine.Limits.MaxBatch;
        var options = new ReaderOptions
        {
            RejectUnknownMembers = true,
            LeaveOpen = false,
            MaxReportedMalformed = maxBatch + 1,
            // The reader copies the body through this buffer; 32 KiB keeps it off the large object heap (a line
            // longer than that grows it, up to MaxLineBytes).
            BufferBytes = Math.Clamp(ndjson.Length + 1, 16, 32 << 10),
            MaxLineBytes = Math.Max(Math.Clamp(ndjson.Length + 1, 16, 1 << 20), 1 << 20),
        };
        using var reader = ExampleReaders.Open(new ReadOnlyMemoryStream(ndjson), LogFormat.AdCtrJson, engine.Spec, options);
        var scratch = engine.RentScratch();
        try
        {
            var row = scratch.Row;
            var x = scratch.Encoded;
            var lineStarts = LineStarts(ndjson.Span, result.LineStarts);
            while (reader.TryRead(row))
            {
                var line = reader.LineNumber;
                if (result.Batch.Count + result.Rejected.Count + reader.Statistics.MalformedLines >= maxBatch)
                {
                    result.Error = Problems.BadRequest("batch too large", "the batch holds more than " + maxBatch + " examples (AdCtr:Limits:MaxBatch)");
                    return result;
                }

                if (engine.CampaignField >= 0 && !row.IsPresent(engine.CampaignField))
                {
                    result.Rejected.Add(new RejectedLine(line, "campaignId is required"));
                    continue;
                }

                if (engine.AdField >= 0 && !row.IsPresent(engine.AdField))
                {
                    result.Rejected.Add(new RejectedLine(line, "adId is required"));
                    continue;
                }

                scratch.Encoder.Encode(row, x);
                if (x.HasCampaign && !result.CampaignIds.ContainsKey(x.CampaignKey))
                {
                    result.CampaignIds[x.CampaignKey] = Encoding.UTF8.GetString(row.Get(engine.CampaignField));
                }

                result.Batch.Add(x, row.Label, row.Weight, row.TimestampMs);
                result.Lines.Add(LineBytes(ndjson, lineStarts, line));
            }

            foreach (var bad in reader.Statistics.FirstMalformed)
            {
                result.Rejected.Add(new RejectedLine(bad.LineNumber, bad.Reason));
            }

            if (result.Batch.Count + result.Rejected.Count > maxBatch)
            {
                result.Error = Problems.BadRequest("batch too large", "the batch holds more than " + maxBatch + " examples (AdCtr:Limits:MaxBatch)");
            }

            result.Rejected.Sort(static (a, b) => a.Line.CompareTo(b.Line));
            return result;
        }
        finally
        {
            engine.ReturnScratch(scratch);
        }
    }

    private static int FirstNonSpace(ReadOnlySpan<byte> span)
    {
        for (var i = 0; i < span.Length; i++)
        {
            if (span[i] is not ((byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n'))
            {
                return i;
            }
        }

        return -1;
    }

    private static List<int> LineStarts(ReadOnlySpan<byte> span, List<int> starts)
    {
        starts.Add(0);
        for (var i = span.IndexOf((byte)'\n'); i >= 0;)
        {
            starts.Add(starts[^1] + i + 1);
            var next = span.Slice(starts[^1]).IndexOf((byte)'\n');
            i = next;
        }

        return starts;
    }

    private static ReadOnlyMemory<byte> LineBytes(ReadOnlyMemory<byte> all, List<int> starts, long lineNumber)
    {
        var start = starts[(int)lineNumber - 1];
        var end = lineNumber < starts.Count ? starts[(int)lineNumber] - 1 : all.Length;
        var line = all.Slice(start, end - start);
        if (line.Length > 0 && line.Span[^1] == (byte)'\r')
        {
            line = line.Slice(0, line.Length - 1);
        }

        return line;
    }

    /// <summary>Rewrites a JSON array of objects as NDJSON (one element per line, element i on line i + 1).</summary>
    private static byte[]? ArrayToNdjson(ReadOnlySpan<byte> body, out int length, out string? error)
    {
        length = 0;
        error = null;
        var output = ArrayPool<byte>.Shared.Rent(body.Length + 16);
        try
        {
            var json = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = 16 });
            json.Read();
            while (json.Read() && json.TokenType != JsonTokenType.EndArray)
            {
                var start = (int)json.TokenStartIndex;
                json.Skip();
                var end = (int)json.BytesConsumed;
                var element = body.Slice(start, end - start);
                element.CopyTo(output.AsSpan(length));
                foreach (ref var b in output.AsSpan(length, element.Length))
                {
                    if (b is (byte)'\n' or (byte)'\r')
                    {
                        b = (byte)' ';
                    }
                }

                length += element.Length;
                output[length++] = (byte)'\n';
            }

            if (json.Read())
            {
                error = "unexpected content after the JSON array";
                ArrayPool<byte>.Shared.Return(output);
                return null;
            }

            return output;
        }
        catch (JsonException e)
        {
            error = "malformed JSON array: " + e.Message;
            ArrayPool<byte>.Shared.Return(output);
            return null;
        }
    }
}

/// <summary>A stream over a <see cref="ReadOnlyMemory{T}"/> without copying.</summary>
internal sealed class ReadOnlyMemoryStream(ReadOnlyMemory<byte> data) : Stream
{
    private int _position;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => data.Length;

    public override long Position
    {
        get => _position;
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var n = Math.Min(buffer.Length, data.Length - _position);
        data.Span.Slice(_position, n).CopyTo(buffer);
        _position += n;
        return n;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

public sealed record RejectedLine(long Line, string Error);

public sealed record ExamplesResponse(int Accepted, List<RejectedLine> Rejected);

/// <summary>OpenAPI description of one example line.</summary>
internal sealed record ExampleDocument(Dictionary<string, string>? Context, string AdId, string CampaignId, string? AdvertiserId, Dictionary<string, string>? Features, int Label, double? Weight, DateTimeOffset? Timestamp);
