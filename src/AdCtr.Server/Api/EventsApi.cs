using System.Text.Json;
using AdCtr.Server.Cluster;
using AdCtr.Server.Hosting;
using AdCtr.Server.Joiner;
using AdCtr.Server.Model;

namespace AdCtr.Server.Api;

/// <summary>
/// <c>POST /v1/events</c>: impression and click events as NDJSON or a JSON array, each
/// <c>{"type": "impression"|"click", "impressionId": "i…", "timestamp"?: ISO 8601 or Unix ms}</c>, applied in
/// order. The response counts accepted events and the examples they made, counts every other event by reason,
/// and lists those lines (line numbers are 1-based; element numbers for an array). Examples made are logged and
/// learned before the response. In a cluster, events for predictions another silo served are applied by that silo
/// (<see cref="EventRouting"/>: one grain call per serving silo per post); a serving silo that is dead or does not
/// answer gives its events <c>serving_silo_unavailable</c>, never an error of the whole post.
/// </summary>
internal static class EventsApi
{
    private const int MaxListedLines = 1000;

    public static RouteGroupBuilder MapEventsApi(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/v1");
        group.MapPost("/events", HandleAsync)
            .WithName("Events")
            .WithSummary("Impressions and clicks of served predictions (NDJSON or a JSON array); joined into labeled examples by the silo that served them")
            .Accepts<EventDocument[]>("application/json", "application/x-ndjson")
            .Produces<EventsResponse>()
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable)
            .ProducesProblem(StatusCodes.Status507InsufficientStorage);
        return group;
    }

    internal static async Task<IResult> HandleAsync(HttpContext context, CtrEngine engine, ImpressionJoiner joiner, ServerMetrics metrics)
    {
        using var body = await RequestBody.ReadAsync(context.Request, engine.Limits.MaxBodyBytes, context.RequestAborted).ConfigureAwait(false);
        if (body.Error is not null)
        {
            metrics.Batch(IngestionEndpoint.Events, IngestionResult.Rejected);
            return body.Error;
        }

        var events = new List<JoinEvent>();
        var lines = new List<long>();
        var invalid = new List<EventLineResult>();
        var error = EventParser.Parse(body.Span, engine.Limits.MaxBatch, events, lines, invalid);
        if (error is not null)
        {
            metrics.Batch(IngestionEndpoint.Events, IngestionResult.Rejected);
            return Problems.BadRequest("invalid events", error);
        }

        var outcomes = new EventOutcome[events.Count];
        int positives, negatives;
        try
        {
            // In a cluster, events for predictions another silo served go to that silo (one call per silo per post).
            (positives, negatives) = context.RequestServices.GetService<EventForwarder>() is { } forwarder
                ? await EventRouting.HandleAsync(events, outcomes, joiner.HandleAsync, forwarder, context.RequestServices.GetService<JoinerMetrics>(), context.RequestAborted).ConfigureAwait(false)
                : await joiner.HandleAsync(events, outcomes, context.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception e) when (IngestionFailures.Classify(e, context) is { } failure)
        {
            // Nothing of this batch was logged or learned, and the joiner undid its marks: the same events may be sent again.
            metrics.Batch(IngestionEndpoint.Events, IngestionResult.Unavailable);
            return IngestionFailures.ToResult(context, failure);
        }
        catch (Exception e) when (GrainFailures.IsUnavailable(e))
        {
            return GrainFailures.Problem(e);
        }

        var rejected = new Dictionary<string, int>(StringComparer.Ordinal);
        var listed = new List<EventLineResult>(invalid);
        foreach (var bad in invalid)
        {
            Count(rejected, JoinerMetrics.OutcomeName(EventOutcome.Invalid));
        }

        var accepted = 0;
        for (var i = 0; i < outcomes.Length; i++)
        {
            if (outcomes[i] == EventOutcome.Accepted)
            {
                accepted++;
                continue;
            }

            var name = JoinerMetrics.OutcomeName(outcomes[i]);
            Count(rejected, name);
            if (listed.Count < MaxListedLines)
            {
                listed.Add(new EventLineResult(lines[i], name, null));
            }
        }

        listed.Sort(static (a, b) => a.Line.CompareTo(b.Line));
        metrics.Batch(IngestionEndpoint.Events, ServerMetrics.ResultOf(accepted, invalid.Count + outcomes.Length - accepted));
        return TypedResults.Ok(new EventsResponse(accepted, positives, negatives, rejected, listed));
    }

    private static void Count(Dictionary<string, int> counts, string key) => counts[key] = counts.GetValueOrDefault(key) + 1;
}

/// <summary>Parses an events body (NDJSON or a JSON array of objects) strictly.</summary>
internal static class EventParser
{
    /// <summary>Fills <paramref name="events"/> (with their line numbers) and <paramref name="invalid"/>; returns a whole-body error or null.</summary>
    public static string? Parse(ReadOnlySpan<byte> body, int maxBatch, List<JoinEvent> events, List<long> lines, List<EventLineResult> invalid)
    {
        var start = 0;
        while (start < body.Length && body[start] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')
        {
            start++;
        }

        if (start == body.Length)
        {
            return "the batch is empty";
        }

        if (body[start] == (byte)'[')
        {
            var json = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = 8 });
            try
            {
                json.Read();
                long element = 0;
                // Bounded by the body: each pass consumes one element.
                while (json.Read() && json.TokenType != JsonTokenType.EndArray)
                {
                    element++;
                    if (element > maxBatch)
                    {
                        return "the batch holds more than " + maxBatch + " events (AdCtr:Limits:MaxBatch)";
                    }

                    var from = (int)json.TokenStartIndex;
                    json.Skip();
                    AddLine(body[from..(int)json.BytesConsumed], element, events, lines, invalid);
                }

                if (json.Read())
                {
                    return "unexpected content after the JSON array";
                }
            }
            catch (JsonException e)
            {
                return "malformed JSON array: " + e.Message;
            }

            return null;
        }

        long number = 0;
        var rest = body;
        // Bounded by the body: each pass consumes one line.
        while (rest.Length > 0)
        {
            number++;
            var end = rest.IndexOf((byte)'\n');
            var line = end < 0 ? rest : rest[..end];
            rest = end < 0 ? default : rest[(end + 1)..];
            if (line.Trim(" \t\r"u8).IsEmpty)
            {
                continue;
            }

            if (events.Count + invalid.Count >= maxBatch)
            {
                return "the batch holds more than " + maxBatch + " events (AdCtr:Limits:MaxBatch)";
            }

            AddLine(line, number, events, lines, invalid);
        }

        return null;
    }

    private static void AddLine(ReadOnlySpan<byte> line, long number, List<JoinEvent> events, List<long> lines, List<EventLineResult> invalid)
    {
        if (TryParseEvent(line, out var e, out var error))
        {
            events.Add(e);
            lines.Add(number);
        }
        else
        {
            invalid.Add(new EventLineResult(number, JoinerMetrics.OutcomeName(EventOutcome.Invalid), error));
        }
    }

    /// <summary>One event object: <c>type</c> and <c>impressionId</c> required, <c>timestamp</c> optional; unknown members are errors.</summary>
    public static bool TryParseEvent(ReadOnlySpan<byte> line, out JoinEvent e, out string? error)
    {
        e = default;
        error = null;
        EventType? type = null;
        ulong bits = 0;
        var hasId = false;
        var idValid = false;
        long timestamp = 0;
        Span<byte> id = stackalloc byte[32];
        try
        {
            var json = new Utf8JsonReader(line, new JsonReaderOptions { MaxDepth = 4 });
            if (!json.Read() || json.TokenType != JsonTokenType.StartObject)
            {
                error = "an event must be a JSON object";
                return false;
            }

            // Bounded by the line: each pass consumes one member.
            while (json.Read() && json.TokenType == JsonTokenType.PropertyName)
            {
                if (json.ValueTextEquals("type"u8))
                {
                    json.Read();
                    if (json.TokenType == JsonTokenType.String && json.ValueTextEquals("impression"u8))
                    {
                        type = EventType.Impression;
                    }
                    else if (json.TokenType == JsonTokenType.String && json.ValueTextEquals("click"u8))
                    {
                        type = EventType.Click;
                    }
                    else
                    {
                        error = "type must be \"impression\" or \"click\"";
                        return false;
                    }
                }
                else if (json.ValueTextEquals("impressionId"u8))
                {
                    json.Read();
                    if (json.TokenType != JsonTokenType.String)
                    {
                        error = "impressionId must be a string";
                        return false;
                    }

                    hasId = true;
                    if (!json.ValueIsEscaped && json.ValueSpan.Length <= 32)
                    {
                        idValid = CtrEngine.TryParseImpressionId(json.ValueSpan, out bits);
                    }
                    else
                    {
                        var n = json.ValueSpan.Length <= 32 ? json.CopyString(id) : -1;
                        idValid = n > 0 && CtrEngine.TryParseImpressionId(id[..n], out bits);
                    }

                }
                else if (json.ValueTextEquals("timestamp"u8))
                {
                    json.Read();
                    if (json.TokenType == JsonTokenType.Number && json.TryGetInt64(out var ms))
                    {
                        timestamp = ms;
                    }
                    else if (json.TokenType == JsonTokenType.String && json.TryGetDateTimeOffset(out var time))
                    {
                        timestamp = time.ToUnixTimeMilliseconds();
                    }
                    else if (json.TokenType != JsonTokenType.Null)
                    {
                        error = "timestamp is neither an ISO 8601 string nor a number of Unix milliseconds";
                        return false;
                    }
                }
                else
                {
                    error = "unknown member '" + json.GetString() + "'";
                    return false;
                }
            }

            if (json.TokenType != JsonTokenType.EndObject || json.Read())
            {
                error = "an event must be exactly one JSON object";
                return false;
            }
        }
        catch (JsonException ex)
        {
            error = "malformed JSON: " + ex.Message;
            return false;
        }

        if (type is null)
        {
            error = "type is required";
            return false;
        }

        if (!hasId)
        {
            error = "impressionId is required";
            return false;
        }

        // An id this server's format cannot produce is well-formed JSON all the same: the joiner counts it as
        // unknown_impression (never served here), not as an invalid line.
        e = new JoinEvent(type.Value, bits, idValid, timestamp);
        return true;
    }
}

public sealed record EventLineResult(long Line, string Outcome, string? Error);

public sealed record EventsResponse(int Accepted, int Positives, int Negatives, Dictionary<string, int> Rejected, List<EventLineResult> Lines);

/// <summary>OpenAPI description of one event.</summary>
internal sealed record EventDocument(string Type, string ImpressionId, DateTimeOffset? Timestamp);
