using System.Buffers;
using System.Text.Json;
using AdCtr.Simulator.World;

namespace AdCtr.Simulator.Drive;

/// <summary>
/// The JSON of <c>POST /v1/predict</c> for a simulated request, and of the answer:
/// <c>{"requestId","context":{user_age,...},"candidates":[{"adId","campaignId","advertiserId","features":{"ad_category"}}]}</c>
/// with the field names and values of <see cref="ExampleRecord"/> (the ones of <c>config/features.sim.json</c>).
/// </summary>
public static class PredictMessages
{
    /// <summary>
    /// Writes the body for <paramref name="request"/> into <paramref name="buffer"/> and returns the candidates'
    /// records (ids, fields and true probabilities), in candidate order.
    /// </summary>
    public static ExampleRecord[] WriteRequest(AdWorld world, in SimRequest request, ArrayBufferWriter<byte> buffer)
    {
        ArgumentNullException.ThrowIfNull(world);
        var candidates = request.Candidates;
        var records = new ExampleRecord[candidates.Length];
        for (var i = 0; i < candidates.Length; i++)
        {
            records[i] = ExampleRecord.ForCandidate(world, request, candidates[i]);
        }

        using var w = new Utf8JsonWriter(buffer);
        w.WriteStartObject();
        w.WriteString("requestId"u8, "r" + request.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        w.WriteStartObject("context"u8);
        for (var f = 0; f < ExampleRecord.ContextFieldNames.Length; f++)
        {
            // The context is the request's: the same for every candidate.
            w.WriteString(ExampleRecord.ContextFieldNames[f], records[0].GetContextValue(f));
        }

        w.WriteEndObject();
        w.WriteStartArray("candidates"u8);
        foreach (var r in records)
        {
            w.WriteStartObject();
            w.WriteString("adId"u8, r.AdId);
            w.WriteString("campaignId"u8, r.CampaignId);
            w.WriteString("advertiserId"u8, r.AdvertiserId);
            w.WriteStartObject("features"u8);
            for (var f = 0; f < ExampleRecord.FeatureFieldNames.Length; f++)
            {
                w.WriteString(ExampleRecord.FeatureFieldNames[f], r.GetFeatureValue(f));
            }

            w.WriteEndObject();
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
        return records;
    }

    /// <summary>
    /// Reads <c>{"predictions":[{"ctr","impressionId",...}]}</c> into <paramref name="ctr"/> and
    /// <paramref name="impressionIds"/>; false unless there is exactly one prediction per candidate, each with a
    /// ctr in [0, 1] and an impression id.
    /// </summary>
    public static bool TryReadResponse(ReadOnlyMemory<byte> json, double[] ctr, string[] impressionIds)
    {
        ArgumentNullException.ThrowIfNull(ctr);
        ArgumentNullException.ThrowIfNull(impressionIds);
        try
        {
            using var doc = JsonDocument.Parse(json);
            if (doc.RootElement.ValueKind != JsonValueKind.Object
                || !doc.RootElement.TryGetProperty("predictions"u8, out var predictions)
                || predictions.ValueKind != JsonValueKind.Array
                || predictions.GetArrayLength() != ctr.Length)
            {
                return false;
            }

            var i = 0;
            foreach (var p in predictions.EnumerateArray())
            {
                if (!p.TryGetProperty("ctr"u8, out var c) || c.ValueKind != JsonValueKind.Number
                    || !p.TryGetProperty("impressionId"u8, out var id) || id.ValueKind != JsonValueKind.String)
                {
                    return false;
                }

                var v = c.GetDouble();
                if (!(v >= 0 && v <= 1))
                {
                    return false;
                }

                ctr[i] = v;
                impressionIds[i] = id.GetString()!;
                i++;
            }

            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
