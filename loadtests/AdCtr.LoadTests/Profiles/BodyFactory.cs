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
    private static readonly string[] Genders = ["f", "m", "u"];

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

    /// <summary>
    /// The bodies of one freshness probe: an explain request with one candidate of campaign
    /// <paramref name="campaignId"/> and the NDJSON line of one example of that same candidate (same user and hour),
    /// label 1, weight 1. The user and the ad's features come from the profile's population, as in any request.
    /// </summary>
    public (byte[] Explain, byte[] Example) Probe(string campaignId)
    {
        ArgumentException.ThrowIfNullOrEmpty(campaignId);
        var user = NextUser();
        var hour = _random.Next(24);
        var (campaign, ad) = NextAd();
        var adId = "a" + campaignId + "_" + ad.ToString(CultureInfo.InvariantCulture);
        _buffer.ResetWrittenCount();
        using (var w = new Utf8JsonWriter(_buffer))
        {
            w.WriteStartObject();
            w.WriteString("requestId", "probe-" + campaignId);
            WriteContext(w, user, hour);
            w.WriteStartArray("candidates");
            w.WriteStartObject();
            WriteAd(w, campaignId, adId, campaign, ad);
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteEndObject();
        }

        var explain = _buffer.WrittenSpan.ToArray();
        _buffer.ResetWrittenCount();
        using (var w = new Utf8JsonWriter(_buffer))
        {
            w.WriteStartObject();
            WriteContext(w, user, hour);
            WriteAd(w, campaignId, adId, campaign, ad);
            w.WriteNumber("label", 1);
            w.WriteNumber("weight", 1.0);
            w.WriteEndObject();
        }

        _buffer.Write("\n"u8);
        return (explain, _buffer.WrittenSpan.ToArray());
    }

    /// <summary>
    /// An NDJSON batch of examples <paramref name="first"/> .. <paramref name="first"/> + <paramref name="count"/> - 1
    /// for the memory measurement: example k belongs to campaign <c>prefix + (k mod campaigns)</c>, so every campaign gets
    /// the same number. Besides the usual user fields each example has the sim spec's other campaign-model fields,
    /// drawn from wide vocabularies (<see cref="RichVocabulary"/>), so a campaign's model grows to hundreds of coordinates.
    /// </summary>
    public byte[] RichExamples(string prefix, int campaigns, long first, int count)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(campaigns, 1);
        _buffer.ResetWrittenCount();
        for (var i = 0; i < count; i++)
        {
            var campaign = (int)((first + i) % campaigns);
            var user = NextUser();
            using (var w = new Utf8JsonWriter(_buffer))
            {
                w.WriteStartObject();
                w.WriteStartObject("context");
                WriteUser(w, user, _random.Next(24));
                w.WriteString("gender", Genders[user % Genders.Length]);
                w.WriteString("region", "r" + _random.Next(RichVocabulary.Regions).ToString(CultureInfo.InvariantCulture));
                w.WriteString("interest", "i" + _random.Next(RichVocabulary.Interests).ToString(CultureInfo.InvariantCulture));
                w.WriteString("site", "s" + _random.Next(RichVocabulary.Sites).ToString(CultureInfo.InvariantCulture));
                w.WriteString("position", _random.Next(RichVocabulary.Positions).ToString(CultureInfo.InvariantCulture));
                w.WriteEndObject();
                var c = prefix + campaign.ToString(CultureInfo.InvariantCulture);
                var ad = _random.Next(_data.AdsPerCampaign);
                WriteAd(w, c, "a" + c + "_" + ad.ToString(CultureInfo.InvariantCulture), campaign, ad);
                w.WriteNumber("label", _random.NextDouble() < _data.ClickRate ? 1 : 0);
                w.WriteNumber("weight", 1.0);
                w.WriteEndObject();
            }

            _buffer.Write("\n"u8);
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

    private void WriteContext(Utf8JsonWriter w, int user) => WriteContext(w, user, _random.Next(24));

    private static void WriteContext(Utf8JsonWriter w, int user, int hour)
    {
        // Stable attributes per user, derived from the user index; the hour varies per request.
        w.WriteStartObject("context");
        WriteUser(w, user, hour);
        w.WriteEndObject();
    }

    private static void WriteUser(Utf8JsonWriter w, int user, int hour)
    {
        w.WriteString("user_id", "u" + user.ToString(CultureInfo.InvariantCulture));
        w.WriteString("user_age", AgeBands[user % AgeBands.Length]);
        w.WriteString("device", Devices[user / 7 % Devices.Length]);
        w.WriteString("os", Oses[user / 3 % Oses.Length]);
        w.WriteString("country", Countries[user / 11 % Countries.Length]);
        w.WriteString("hour", hour.ToString(CultureInfo.InvariantCulture));
    }

    private void WriteAd(Utf8JsonWriter w, int campaign, int ad)
    {
        var c = campaign.ToString(CultureInfo.InvariantCulture);
        WriteAd(w, "c" + c, "a" + c + "_" + ad.ToString(CultureInfo.InvariantCulture), campaign, ad);
    }

    /// <summary>Ad <paramref name="adId"/> of campaign <paramref name="campaignId"/>; <paramref name="campaign"/> picks its advertiser and features.</summary>
    private void WriteAd(Utf8JsonWriter w, string campaignId, string adId, int campaign, int ad)
    {
        w.WriteString("adId", adId);
        w.WriteString("campaignId", campaignId);
        w.WriteString("advertiserId", "adv" + (campaign % _data.Advertisers).ToString(CultureInfo.InvariantCulture));
        w.WriteStartObject("features");
        w.WriteString("ad_category", Categories[campaign % Categories.Length]);
        w.WriteString("ad_format", Formats[(campaign + ad) % Formats.Length]);
        w.WriteEndObject();
    }
}

/// <summary>
/// Vocabulary sizes of the extra fields of <see cref="BodyFactory.RichExamples"/>. With the sim spec's campaign part
/// (bias, user_age 6, gender 3, region, device 3, interest, site, position, hour 24), a campaign with n examples
/// expects 1 + 6 + 3 + 3 + 24 + sum over region, interest, site, position of V (1 - e^(-n/V)) distinct coordinates
/// (each draw uniform over V values); see <see cref="ExpectedCampaignCoordinates"/>.
/// </summary>
public static class RichVocabulary
{
    public const int Regions = 50;
    public const int Interests = 200;
    public const int Sites = 1000;
    public const int Positions = 8;

    /// <summary>
    /// Expected distinct campaign coordinates after <paramref name="examples"/> examples: the fields with few values
    /// (bias, age, gender, device) are all seen after a few examples, so they count in full (34 with the 24 hours when
    /// n is large; the hour term is V (1 - e^(-n/V)) too).
    /// </summary>
    public static double ExpectedCampaignCoordinates(int examples)
    {
        static double Seen(int v, int n) => v * (1 - Math.Exp(-(double)n / v));
        return 1 + 6 + 3 + 3 + Seen(24, examples) + Seen(Regions, examples) + Seen(Interests, examples) + Seen(Sites, examples) + Seen(Positions, examples);
    }
}
