using System.Buffers;
using System.Globalization;
using System.Text.Json;

namespace AdCtr.LoadTests.Profiles;

/// <summary>An impression id returned by the server, with the ad it was for.</summary>
public sealed record HarvestedImpression(string ImpressionId, string AdId, string CampaignId, double Ctr);

/// <summary>
/// Builds the request bodies of a profile once, from a seeded generator: a population of users (age band,
/// device, OS, country, hour) and campaigns (advertiser, category, format, ads) with a skewed popularity, so
/// requests hit many users and campaigns, the popular ones more often.
/// </summary>
public sealed class BodyFactory
{
    public const string JsonType = "application/json";
    public const string NdjsonType = "application/x-ndjson";

    private static readonly string[] AgeBands = ["18-24", "25-34", "35-44", "45-54", "55-64", "65+"];
    private static readonly string[] Devices = ["mobile", "mobile", "mobile", "desktop", "tablet"];
    private static readonly string[] Oses = ["android", "ios", "windows", "macos", "linux"];
    private static readonly string[] Countries = ["us", "gb", "de", "fr", "in", "br", "jp", "ca"];
    private static readonly string[] Categories = ["shoes", "travel", "games", "finance", "food", "fashion", "cars", "music", "sports", "books"];
    private static readonly string[] Formats = ["banner", "native", "video"];

    private readonly Random _random;
    private readonly DataSpec _data;
    private readonly ArrayBufferWriter<byte> _buffer = new(64 * 1024);
    private readonly DateTimeOffset _eventBase;
    private long _requestCounter;

    public BodyFactory(int seed, DataSpec data, DateTimeOffset eventBase)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.Users <= 0 || data.Campaigns <= 0 || data.AdsPerCampaign <= 0 || data.Advertisers <= 0)
        {
            throw new ArgumentException("The population sizes must be positive.", nameof(data));
        }

        _random = new Random(seed);
        _data = data;
        _eventBase = eventBase;
    }

    /// <summary>A predict body with <paramref name="candidates"/> ads (distinct, from skewed campaigns).</summary>
    public byte[] Predict(int candidates)
    {
        _buffer.ResetWrittenCount();
        using (var w = new Utf8JsonWriter(_buffer))
        {
            w.WriteStartObject();
            w.WriteString("requestId", "r" + (++_requestCounter).ToString(CultureInfo.InvariantCulture));
            WriteContext(w, NextUser());
            w.WriteStartArray("candidates");
            for (var i = 0; i < candidates; i++)
            {
                var (campaign, ad) = NextAd();
                w.WriteStartObject();
                WriteAd(w, campaign, ad);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        return _buffer.WrittenSpan.ToArray();
    }

    /// <summary>An NDJSON batch of labeled examples (label 1 with the campaign's click probability).</summary>
    public byte[] Examples(int batch)
    {
        _buffer.ResetWrittenCount();
        for (var i = 0; i < batch; i++)
        {
            using (var w = new Utf8JsonWriter(_buffer))
            {
                w.WriteStartObject();
                WriteContext(w, NextUser());
                var (campaign, ad) = NextAd();
                WriteAd(w, campaign, ad);
                // Campaigns differ in click rate (0.5x..1.5x the base) so the labels carry signal.
                var p = _data.ClickRate * (0.5 + (campaign % 11) / 10.0);
                w.WriteNumber("label", _random.NextDouble() < p ? 1 : 0);
                w.WriteNumber("weight", 1.0);
                w.WriteEndObject();
            }

            _buffer.Write("\n"u8);
        }

        return _buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// Event batches as the joiner sees them: impressions in time order, and for about <c>clickRate</c> of them a
    /// click 1-20 s later, placed in the batch where its time falls. All timestamps are before the build time.
    /// </summary>
    public List<byte[]> EventBatches(IReadOnlyList<HarvestedImpression> impressions, int batch)
    {
        var events = new List<(DateTimeOffset At, bool Click, string Id)>(impressions.Count * 2);
        for (var i = 0; i < impressions.Count; i++)
        {
            var at = _eventBase.AddMilliseconds(i * 5.0);
            events.Add((at, false, impressions[i].ImpressionId));
            if (_random.NextDouble() < _data.ClickRate)
            {
                events.Add((at.AddSeconds(1 + _random.Next(20)), true, impressions[i].ImpressionId));
            }
        }

        events.Sort((a, b) => a.At.CompareTo(b.At));
        var batches = new List<byte[]>();
        for (var start = 0; start < events.Count; start += batch)
        {
            _buffer.ResetWrittenCount();
            for (var i = start; i < Math.Min(events.Count, start + batch); i++)
            {
                WriteEvent(events[i].Click ? "click" : "impression", events[i].Id, events[i].At);
            }

            batches.Add(_buffer.WrittenSpan.ToArray());
        }

        return batches;
    }

    /// <summary>Impression events for the <paramref name="topK"/> highest-CTR ads of one predict response.</summary>
    public byte[] TopImpressions(IReadOnlyList<HarvestedImpression> response, int topK, DateTimeOffset at)
    {
        var sorted = response.OrderByDescending(p => p.Ctr).ThenBy(p => p.ImpressionId, StringComparer.Ordinal).Take(topK);
        _buffer.ResetWrittenCount();
        foreach (var impression in sorted)
        {
            WriteEvent("impression", impression.ImpressionId, at);
        }

        return _buffer.WrittenSpan.ToArray();
    }

    /// <summary>Click events for the given impressions, 1-20 s after <paramref name="shownAt"/>.</summary>
    public byte[] Clicks(IEnumerable<HarvestedImpression> impressions, DateTimeOffset shownAt)
    {
        _buffer.ResetWrittenCount();
        foreach (var impression in impressions)
        {
            WriteEvent("click", impression.ImpressionId, shownAt.AddSeconds(1 + _random.Next(20)));
        }

        return _buffer.WrittenSpan.ToArray();
    }

    public int Next(int maxExclusive) => _random.Next(maxExclusive);

    public double NextDouble() => _random.NextDouble();

    /// <summary>Reads the predictions of a predict response (<c>{"predictions":[{"adId","campaignId","ctr","impressionId"}]}</c>).</summary>
    public static List<HarvestedImpression> ParsePredictions(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);
        using var document = JsonDocument.ParseValue(ref reader);
        var result = new List<HarvestedImpression>();
        if (!document.RootElement.TryGetProperty("predictions", out var predictions) || predictions.ValueKind != JsonValueKind.Array)
        {
            throw new InvalidDataException("predict response without a 'predictions' array");
        }

        foreach (var p in predictions.EnumerateArray())
        {
            var id = p.GetProperty("impressionId").GetString();
            if (string.IsNullOrEmpty(id))
            {
                throw new InvalidDataException("prediction without an impressionId");
            }

            result.Add(new HarvestedImpression(id, p.GetProperty("adId").GetString() ?? "", p.GetProperty("campaignId").GetString() ?? "",
                p.TryGetProperty("ctr", out var ctr) && ctr.ValueKind == JsonValueKind.Number ? ctr.GetDouble() : 0));
        }

        return result;
    }

    private void WriteEvent(string type, string impressionId, DateTimeOffset at)
    {
        using (var w = new Utf8JsonWriter(_buffer))
        {
            w.WriteStartObject();
            w.WriteString("type", type);
            w.WriteString("impressionId", impressionId);
            w.WriteString("timestamp", at.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture));
            w.WriteEndObject();
        }

        _buffer.Write("\n"u8);
    }

    private int NextUser() => _random.Next(_data.Users);

    /// <summary>A campaign with a skewed popularity (index = C * u^2: the first tenth of campaigns gets ~32 % of the traffic), and one of its ads.</summary>
    private (int Campaign, int Ad) NextAd()
    {
        var u = _random.NextDouble();
        var campaign = Math.Min(_data.Campaigns - 1, (int)(_data.Campaigns * u * u));
        return (campaign, _random.Next(_data.AdsPerCampaign));
    }

    private void WriteContext(Utf8JsonWriter w, int user)
    {
        // Stable attributes per user, derived from the user index; the hour varies per request.
        w.WriteStartObject("context");
        w.WriteString("user_id", "u" + user.ToString(CultureInfo.InvariantCulture));
        w.WriteString("user_age", AgeBands[user % AgeBands.Length]);
        w.WriteString("device", Devices[user / 7 % Devices.Length]);
        w.WriteString("os", Oses[user / 3 % Oses.Length]);
        w.WriteString("country", Countries[user / 11 % Countries.Length]);
        w.WriteString("hour", _random.Next(24).ToString(CultureInfo.InvariantCulture));
        w.WriteEndObject();
    }

    private void WriteAd(Utf8JsonWriter w, int campaign, int ad)
    {
        var c = campaign.ToString(CultureInfo.InvariantCulture);
        w.WriteString("adId", "a" + c + "_" + ad.ToString(CultureInfo.InvariantCulture));
        w.WriteString("campaignId", "c" + c);
        w.WriteString("advertiserId", "adv" + (campaign % _data.Advertisers).ToString(CultureInfo.InvariantCulture));
        w.WriteStartObject("features");
        w.WriteString("ad_category", Categories[campaign % Categories.Length]);
        w.WriteString("ad_format", Formats[(campaign + ad) % Formats.Length]);
        w.WriteEndObject();
    }
}
