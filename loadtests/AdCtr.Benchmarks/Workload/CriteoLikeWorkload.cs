using AdCtr.Learning.Features;
using AdCtr.Learning.Tests.Support;

namespace AdCtr.Benchmarks.Workload;

/// <summary>
/// A seeded stream of Criteo-like display-ad examples for the learner benchmarks: 26 fields (21 categorical
/// with Zipf-distributed values rendered as 8-hex-digit tokens, like Criteo's C1..C26, and 5 heavy-tailed
/// integer counts, like I1..I13) and 15 crosses, at 2^22 slots. Every field is present, so each example has
/// exactly 40 global features (bias + 26 fields + 13 crosses) and 15 campaign features (bias + 9 fields +
/// 5 crosses). Ad-side fields (campaign, ad, advertiser, ad category, ad size) are drawn per candidate;
/// the 16 context fields and the counts per request, so the candidates of one request share them.
/// Labels follow a hidden logistic model (CTR about 15%) so that the learned weights are meaningful.
/// </summary>
internal sealed class CriteoLikeWorkload
{
    public const int Bits = 22;
    public const int Campaigns = 1000;
    public const int GlobalFeatures = 40;
    public const int CampaignFeatures = 15;

    private const int AdsPerCampaign = 16;
    private const int Advertisers = Campaigns / 4;
    private const int AdCategories = 40;

    // Field indices, in the order of Fields below.
    private const int Campaign = 0, Ad = 1, Advertiser = 2, AdCategory = 3, AdSize = 4;
    private const int FirstContext = 5, FirstCount = 21, FieldCount = 26;

    private static readonly (string Name, int Cardinality, double Skew, ModelPart Models)[] Fields =
    [
        ("campaign", Campaigns, 0.9, ModelPart.Global),
        ("ad", Campaigns * AdsPerCampaign, 0, ModelPart.Both),
        ("advertiser", Advertisers, 0, ModelPart.Global),
        ("ad_category", AdCategories, 0, ModelPart.Global),
        ("ad_size", 8, 1.0, ModelPart.Both),
        ("site", 20_000, 1.1, ModelPart.Global),
        ("site_category", 30, 1.0, ModelPart.Both),
        ("app", 5_000, 1.1, ModelPart.Global),
        ("device_type", 5, 1.5, ModelPart.Both),
        ("device_model", 3_000, 1.1, ModelPart.Global),
        ("os", 12, 1.3, ModelPart.Global),
        ("country", 120, 1.2, ModelPart.Both),
        ("region", 2_000, 1.0, ModelPart.Global),
        ("hour", 24, 0.3, ModelPart.Both),
        ("weekday", 7, 0.1, ModelPart.Global),
        ("user_segment", 300, 0.8, ModelPart.Both),
        ("conn_type", 5, 1.2, ModelPart.Global),
        ("browser", 25, 1.3, ModelPart.Global),
        ("language", 40, 1.4, ModelPart.Global),
        ("position", 6, 1.2, ModelPart.Both),
        ("page_category", 120, 1.0, ModelPart.Both),
        ("I1", 0, 0, ModelPart.Global),
        ("I2", 0, 0, ModelPart.Global),
        ("I3", 0, 0, ModelPart.Global),
        ("I4", 0, 0, ModelPart.Global),
        ("I5", 0, 0, ModelPart.Global),
    ];

    private static readonly (string[] Fields, ModelPart Models)[] Crosses =
    [
        (["site", "ad_category"], ModelPart.Global),
        (["app", "ad_category"], ModelPart.Global),
        (["device_type", "ad_size"], ModelPart.Global),
        (["country", "advertiser"], ModelPart.Global),
        (["hour", "weekday"], ModelPart.Global),
        (["user_segment", "ad_category"], ModelPart.Global),
        (["site", "position"], ModelPart.Global),
        (["os", "device_model"], ModelPart.Global),
        (["page_category", "ad_category"], ModelPart.Global),
        (["country", "device_type", "hour"], ModelPart.Global),
        (["user_segment", "ad_size"], ModelPart.Both),
        (["position", "ad_size"], ModelPart.Both),
        (["site_category", "hour"], ModelPart.Both),
        (["site_category", "user_segment"], ModelPart.Campaign),
        (["region", "device_type"], ModelPart.Campaign),
    ];

    /// <summary>Fields whose value moves the hidden click logit (plus the site x ad category interaction).</summary>
    private static readonly int[] Effective = [Campaign, Ad, AdSize, 5, 8, 13, 15, 19];

    private readonly TestRandom _rng;
    private readonly double[]?[] _cdf = new double[FieldCount][];
    private readonly double[] _adCdf = ZipfCdf(AdsPerCampaign, 1.0);
    private readonly int[] _ids = new int[FieldCount];
    private readonly char[] _text = new char[16];

    public CriteoLikeWorkload(ulong seed)
    {
        _rng = new TestRandom(seed);
        for (var f = 0; f < FieldCount; f++)
        {
            var (_, cardinality, skew, _) = Fields[f];
            if (cardinality > 0 && skew > 0)
            {
                _cdf[f] = ZipfCdf(cardinality, skew);
            }
        }

        Spec = new FeatureSpec
        {
            Name = "bench-criteo-like",
            HashSeed = 0x5EED_AD01,
            Bits = Bits,
            CampaignField = "campaign",
            Fields = Array.ConvertAll(Fields, f => new FieldSpec
            {
                Name = f.Name,
                Kind = f.Cardinality == 0 ? FieldKind.Count : FieldKind.Categorical,
                Models = f.Models,
            }),
            Crosses = Array.ConvertAll(Crosses, c => new CrossSpec { Fields = c.Fields, Models = c.Models }),
        };
        Spec.Validate();
    }

    public FeatureSpec Spec { get; }

    /// <summary>
    /// Fills <paramref name="row"/> (cleared first) with one example. With <paramref name="newContext"/>
    /// false the context fields and counts of the previous example are kept (another candidate ad of the
    /// same request); the ad-side fields and the label are always drawn afresh.
    /// </summary>
    public void Next(RawRow row, bool newContext = true)
    {
        if (newContext)
        {
            for (var f = FirstContext; f < FirstCount; f++)
            {
                _ids[f] = Draw(f);
            }

            for (var f = FirstCount; f < FieldCount; f++)
            {
                // Heavy-tailed non-negative counts, like Criteo's integer features (median about e^1).
                _ids[f] = (int)Math.Min(1_000_000, Math.Floor(Math.Exp(1.0 + (1.6 * _rng.NextGaussian()))));
            }
        }

        var campaign = Draw(Campaign);
        _ids[Campaign] = campaign;
        _ids[Ad] = (campaign * AdsPerCampaign) + ZipfIndex(_adCdf, _rng.NextDouble() * _adCdf[^1]);
        _ids[Advertiser] = campaign % Advertisers;
        _ids[AdCategory] = (int)(Mix(((ulong)AdCategory << 32) | (uint)campaign) % AdCategories);
        _ids[AdSize] = Draw(AdSize);

        row.Clear();
        for (var f = 0; f < FieldCount; f++)
        {
            int written;
            if (f >= FirstCount)
            {
                _ids[f].TryFormat(_text, out written, default, System.Globalization.CultureInfo.InvariantCulture);
            }
            else
            {
                // Criteo publishes categorical values as 8 hex digits of a hash.
                ((uint)Mix(((ulong)f << 32) | (uint)_ids[f])).TryFormat(_text, out written, "x8", System.Globalization.CultureInfo.InvariantCulture);
            }

            row.Set(f, _text.AsSpan(0, written));
        }

        var logit = -2.2;
        foreach (var f in Effective)
        {
            logit += Effect(f, _ids[f], 1.2);
        }

        logit += Effect(64, (_ids[5] * AdCategories) + _ids[AdCategory], 1.0);
        row.Label = _rng.NextDouble() < 1 / (1 + Math.Exp(-logit)) ? 1f : 0f;
    }

    private int Draw(int field)
    {
        var cdf = _cdf[field];
        return cdf is null ? _rng.Next(Fields[field].Cardinality) : ZipfIndex(cdf, _rng.NextDouble() * cdf[^1]);
    }

    /// <summary>A deterministic effect in [-scale/2, scale/2) of value <paramref name="id"/> of a field.</summary>
    private static double Effect(int field, int id, double scale) =>
        (((Mix(((ulong)field << 40) ^ (uint)id ^ 0xEFFEC7UL) >> 40) / (double)(1 << 24)) - 0.5) * scale;

    private static int ZipfIndex(ReadOnlySpan<double> cdf, double u)
    {
        var i = cdf.BinarySearch(u);
        return Math.Min(i < 0 ? ~i : i, cdf.Length - 1);
    }

    /// <summary>Unnormalised cumulative weights of 1/(k+1)^skew, k = 0..n-1.</summary>
    private static double[] ZipfCdf(int n, double skew)
    {
        var cdf = new double[n];
        var sum = 0.0;
        for (var k = 0; k < n; k++)
        {
            sum += Math.Pow(k + 1, -skew);
            cdf[k] = sum;
        }

        return cdf;
    }

    /// <summary>SplitMix64's finaliser, as a stateless hash of a field and id.</summary>
    private static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
