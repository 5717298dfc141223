using AdCtr.Learning.Features;

namespace AdCtr.Learning.Tests.Support;

/// <summary>
/// Data drawn from a known logistic model with one pairwise interaction:
/// logit = bias + ea[a] + eb[b] + ec[c] + ed[d] + inter[a, b] + camp[k] (+ a special campaign's own
/// a-dependent effect). The learner sees fields a, b, c, d and campaign; the truth is returned with each row.
/// </summary>
internal sealed class SyntheticWorld
{
    public const int A = 20;
    public const int B = 20;
    public const int C = 50;
    public const int D = 10;
    public const int Campaigns = 30;

    /// <summary>Campaign 0 reacts to field a in its own way (a GLMix random effect).</summary>
    public const string SpecialCampaign = "k0";

    private readonly double[] _ea = new double[A];
    private readonly double[] _eb = new double[B];
    private readonly double[] _ec = new double[C];
    private readonly double[] _ed = new double[D];
    private readonly double[,] _inter = new double[A, B];
    private readonly double[] _camp = new double[Campaigns];
    private readonly double _special;
    private readonly TestRandom _rng;
    private readonly string[] _names = new string[Math.Max(Math.Max(A, B), Math.Max(C, Campaigns))];

    public SyntheticWorld(ulong seed, double interactionSd = 0.8, double specialEffect = 0.0)
    {
        var rng = new TestRandom(seed);
        Fill(_ea, rng, 0.5);
        Fill(_eb, rng, 0.5);
        Fill(_ec, rng, 0.5);
        Fill(_ed, rng, 0.3);
        Fill(_camp, rng, 0.3);
        for (var i = 0; i < A; i++)
        {
            for (var j = 0; j < B; j++)
            {
                _inter[i, j] = interactionSd * rng.NextGaussian();
            }
        }

        _special = specialEffect;
        _rng = new TestRandom(seed ^ 0xABCDEF);
        for (var i = 0; i < _names.Length; i++)
        {
            _names[i] = i.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
    }

    public static FeatureSpec Spec(bool withCross, bool withCampaign) => FeatureSpec.Parse($$"""
        {
          "name": "synthetic", "hashSeed": 3, "bits": 18 {{(withCampaign ? ", \"campaignField\": \"campaign\"" : "")}},
          "fields": [ {"name": "campaign"}, {"name": "a", "models": "both"}, {"name": "b"}, {"name": "c"}, {"name": "d"} ],
          "crosses": [ {{(withCross ? "{\"fields\": [\"a\", \"b\"]}" : "")}} ]
        }
        """);

    /// <summary>Fills <paramref name="row"/> with the next example; returns its true click probability.</summary>
    public double Next(RawRow row, string? forceCampaign = null)
    {
        var a = _rng.Next(A);
        var b = _rng.Next(B);
        var c = _rng.Next(C);
        var d = _rng.Next(D);
        var k = _rng.Next(Campaigns);
        var campaign = forceCampaign ?? "k" + _names[k];
        if (forceCampaign is not null)
        {
            k = int.Parse(forceCampaign.AsSpan(1), System.Globalization.CultureInfo.InvariantCulture);
        }

        var logit = -1.8 + _ea[a] + _eb[b] + _ec[c] + _ed[d] + _inter[a, b] + _camp[k];
        if (campaign == SpecialCampaign)
        {
            logit += a < A / 2 ? _special : -_special;
        }

        var p = 1 / (1 + Math.Exp(-logit));
        row.Clear();
        row.Set(0, campaign.AsSpan());
        row.Set(1, _names[a].AsSpan());
        row.Set(2, _names[b].AsSpan());
        row.Set(3, _names[c].AsSpan());
        row.Set(4, _names[d].AsSpan());
        row.Label = _rng.NextDouble() < p ? 1 : 0;
        return p;
    }

    public static double LogLoss(double p, float y)
    {
        p = Math.Clamp(p, 1e-15, 1 - 1e-15);
        return y > 0 ? -Math.Log(p) : -Math.Log(1 - p);
    }

    private static void Fill(double[] values, TestRandom rng, double sd)
    {
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = sd * rng.NextGaussian();
        }
    }
}
