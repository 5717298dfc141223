using System.Text.Json;
using AdCtr.Learning.Readers;

namespace AdCtr.Server.Api;

/// <summary>
/// Strict parser of <c>POST /v1/predict</c> bodies with <see cref="Utf8JsonReader"/> (no DOM, no strings):
/// <c>{"requestId"?, "context"?: {field: value}, "candidates": [{"adId", "campaignId", "advertiserId"?,
/// "features"?: {field: value}}]}</c>. Values are strings, numbers or booleans (null = missing). Unknown
/// members are errors (they are most often typos); context and feature keys the spec does not declare are
/// ignored and counted. Every error names the member and the candidate it is in.
/// </summary>
internal sealed class PredictRequestParser(FieldNameTable names, int maxCandidates, int maxFields, int maxValueBytes)
{
    public bool TryParse(ReadOnlySpan<byte> body, PredictRequest request, out string? error)
    {
        request.Reset();
        try
        {
            error = Parse(body, request);
        }
        catch (JsonException e)
        {
            error = "malformed JSON: " + e.Message;
        }
        catch (InvalidOperationException e)
        {
            error = "malformed JSON string: " + e.Message;
        }

        return error is null;
    }

    private string? Parse(ReadOnlySpan<byte> body, PredictRequest request)
    {
        var json = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = 8 });
        if (!json.Read() || json.TokenType != JsonTokenType.StartObject)
        {
            return "the body must be a JSON object";
        }

        var sawCandidates = false;
        while (json.Read() && json.TokenType == JsonTokenType.PropertyName)
        {
            if (json.ValueTextEquals("requestId"u8))
            {
                json.Read();
                if (json.TokenType == JsonTokenType.Null)
                {
                    continue;
                }

                if (json.TokenType != JsonTokenType.String)
                {
                    return "requestId must be a string";
                }

                if (json.ValueSpan.Length > maxValueBytes)
                {
                    return "requestId is longer than " + maxValueBytes + " bytes";
                }

                request.RequestId = request.StoreString(ref json);
            }
            else if (json.ValueTextEquals("context"u8))
            {
                json.Read();
                if (json.TokenType == JsonTokenType.Null)
                {
                    continue;
                }

                if (json.TokenType != JsonTokenType.StartObject)
                {
                    return "context must be an object of field: value";
                }

                request.ContextStart = request.EntryCount;
                var e = ReadFields(ref json, request, -1);
                if (e is not null)
                {
                    return e;
                }

                request.ContextCount = request.EntryCount - request.ContextStart;
            }
            else if (json.ValueTextEquals("candidates"u8))
            {
                json.Read();
                if (json.TokenType != JsonTokenType.StartArray)
                {
                    return "candidates must be an array";
                }

                sawCandidates = true;
                var e = ReadCandidates(ref json, request);
                if (e is not null)
                {
                    return e;
                }
            }
            else
            {
                return "unknown member '" + json.GetString() + "' (expected requestId, context, candidates)";
            }
        }

        if (json.Read())
        {
            return "unexpected content after the JSON object";
        }

        if (!sawCandidates || request.CandidateCount == 0)
        {
            return "candidates must hold at least one candidate";
        }

        return null;
    }

    private string? ReadCandidates(ref Utf8JsonReader json, PredictRequest request)
    {
        while (json.Read() && json.TokenType != JsonTokenType.EndArray)
        {
            var index = request.CandidateCount;
            if (index >= maxCandidates)
            {
                return "too many candidates (the limit is " + maxCandidates + ")";
            }

            if (json.TokenType != JsonTokenType.StartObject)
            {
                return "candidates[" + index + "] must be an object";
            }

            ref var c = ref request.AddCandidate();
            while (json.Read() && json.TokenType == JsonTokenType.PropertyName)
            {
                if (json.ValueTextEquals("adId"u8))
                {
                    json.Read();
                    var e = ReadId(ref json, request, "adId", index, required: true, out c.AdId);
                    if (e is not null)
                    {
                        return e;
                    }
                }
                else if (json.ValueTextEquals("campaignId"u8))
                {
                    json.Read();
                    var e = ReadId(ref json, request, "campaignId", index, required: true, out c.CampaignId);
                    if (e is not null)
                    {
                        return e;
                    }
                }
                else if (json.ValueTextEquals("advertiserId"u8))
                {
                    json.Read();
                    var e = ReadId(ref json, request, "advertiserId", index, required: false, out c.AdvertiserId);
                    if (e is not null)
                    {
                        return e;
                    }
                }
                else if (json.ValueTextEquals("features"u8))
                {
                    json.Read();
                    if (json.TokenType == JsonTokenType.Null)
                    {
                        continue;
                    }

                    if (json.TokenType != JsonTokenType.StartObject)
                    {
                        return "candidates[" + index + "].features must be an object of field: value";
                    }

                    c.FeatureStart = request.EntryCount;
                    var e = ReadFields(ref json, request, index);
                    if (e is not null)
                    {
                        return e;
                    }

                    c.FeatureCount = request.EntryCount - c.FeatureStart;
                }
                else
                {
                    return "unknown member '" + json.GetString() + "' in candidates[" + index + "] (expected adId, campaignId, advertiserId, features)";
                }
            }

            if (c.AdId.IsMissing)
            {
                return "candidates[" + index + "].adId is required";
            }

            if (c.CampaignId.IsMissing)
            {
                return "candidates[" + index + "].campaignId is required";
            }
        }

        return null;
    }

    private string? ReadId(ref Utf8JsonReader json, PredictRequest request, string name, int index, bool required, out ValueRange range)
    {
        range = ValueRange.Missing;
        if (json.TokenType == JsonTokenType.Null && !required)
        {
            return null;
        }

        if (json.TokenType is not (JsonTokenType.String or JsonTokenType.Number))
        {
            return "candidates[" + index + "]." + name + " must be a string";
        }

        if (json.ValueSpan.Length == 0 || json.ValueSpan.Length > maxValueBytes)
        {
            return "candidates[" + index + "]." + name + " must be 1 to " + maxValueBytes + " bytes long";
        }

        range = json.TokenType == JsonTokenType.String ? request.StoreString(ref json) : request.Store(json.ValueSpan);
        return null;
    }

    private string? ReadFields(ref Utf8JsonReader json, PredictRequest request, int candidate)
    {
        var count = 0;
        Span<byte> nameBuffer = stackalloc byte[256];
        while (json.Read() && json.TokenType == JsonTokenType.PropertyName)
        {
            if (++count > maxFields)
            {
                return Where(candidate) + " has more than " + maxFields + " fields";
            }

            int field;
            if (json.ValueIsEscaped)
            {
                if (json.ValueSpan.Length > nameBuffer.Length)
                {
                    field = -1;
                }
                else
                {
                    var n = json.CopyString(nameBuffer);
                    field = names.Find(nameBuffer.Slice(0, n));
                }
            }
            else
            {
                field = names.Find(json.ValueSpan);
            }

            json.Read();
            switch (json.TokenType)
            {
                case JsonTokenType.String:
                    if (json.ValueSpan.Length > maxValueBytes)
                    {
                        return Where(candidate) + " has a value longer than " + maxValueBytes + " bytes";
                    }

                    if (field >= 0)
                    {
                        request.AddEntry(field, request.StoreString(ref json));
                    }

                    break;
                case JsonTokenType.Number:
                case JsonTokenType.True:
                case JsonTokenType.False:
                    if (field >= 0)
                    {
                        request.AddEntry(field, request.Store(json.ValueSpan));
                    }

                    break;
                case JsonTokenType.Null:
                    break;
                default:
                    return Where(candidate) + " values must be strings, numbers or booleans";
            }

            if (field < 0)
            {
                request.IgnoredFields++;
            }
        }

        return null;
    }

    /// <summary>Where a field object sits, for error messages (built only on error).</summary>
    private static string Where(int candidate) => candidate < 0 ? "context" : "candidates[" + candidate + "].features";
}
