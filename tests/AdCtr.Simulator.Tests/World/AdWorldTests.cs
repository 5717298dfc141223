using AdCtr.Simulator.World;

namespace AdCtr.Simulator.Tests.World;

public class AdWorldTests
{
    private static readonly Interaction[] Tables =
        [Interaction.AgeCategory, Interaction.InterestCategory, Interaction.SiteCategory, Interaction.DeviceHour];

    [Fact]
    public void Create_SameSeed_BuildsTheSameWorld()
    {
        var a = TestScenarios.World("cold-start", 9);
        var b = TestScenarios.World("cold-start", 9);
        Assert.Equal(a.Campaigns.Count, b.Campaigns.Count);
        for (var i = 0; i < a.Campaigns.Count; i++)
        {
            Assert.Equal(a.Campaigns[i].Start, b.Campaigns[i].Start);
            Assert.Equal(a.Campaigns[i].Effect, b.Campaigns[i].Effect);
            Assert.Equal(a.Campaigns[i].Category, b.Campaigns[i].Category);
        }

        Assert.Equal(a.Users[123], b.Users[123]);
    }

    [Fact]
    public void Create_DifferentSeed_BuildsADifferentWorld()
    {
        var a = TestScenarios.World("stationary", 1);
        var b = TestScenarios.World("stationary", 2);
        var differing = 0;
        for (var i = 0; i < a.Campaigns.Count; i++)
        {
            differing += a.Campaigns[i].Effect != b.Campaigns[i].Effect ? 1 : 0;
        }

        // Campaign effects are continuous draws: two seeds agree on none of them.
        Assert.Equal(a.Campaigns.Count, differing);
    }

    [Fact]
    public void Impressions_Stationary_EmpiricalCtrMatchesMeanTrueProbability()
    {
        var world = TestScenarios.World("stationary");
        const int N = 200_000;
        long clicks = 0;
        double sumP = 0, sumVar = 0;
        var n = 0;
        foreach (var impression in world.StartRun().Impressions())
        {
            clicks += impression.Clicked ? 1 : 0;
            sumP += impression.TrueProbability;
            sumVar += impression.TrueProbability * (1 - impression.TrueProbability);
            if (++n == N)
            {
                break;
            }
        }

        // Clicks are independent Bernoulli(p_i) draws: E[clicks] = sum p_i, Var = sum p_i (1 - p_i). 4 sd bound.
        Assert.Equal(N, n);
        Assert.InRange(clicks, sumP - (4 * Math.Sqrt(sumVar)), sumP + (4 * Math.Sqrt(sumVar)));
    }

    [Fact]
    public void Requests_Stationary_AreInTimeOrderWithDistinctLiveCampaigns()
    {
        var world = TestScenarios.World("stationary");
        var previous = DateTime.MinValue;
        var n = 0;
        var seen = new HashSet<int>();
        foreach (var request in world.StartRun().Requests())
        {
            Assert.True(request.Time >= previous);
            Assert.Equal(request.Time.Hour, request.Context.Hour);
            Assert.Equal(5, request.Candidates.Length);
            seen.Clear();
            foreach (var ad in request.Candidates)
            {
                Assert.True(seen.Add(world.Ads[ad].CampaignIndex));
            }

            previous = request.Time;
            if (++n == 10_000)
            {
                break;
            }
        }

        Assert.Equal(10_000, n);
    }

    [Fact]
    public void Requests_DailyCycle_PeakHourBusierThanTrough()
    {
        // Stationary: rate = mean * (1 + 0.5 cos(2 pi (h - 20) / 24)): hour 20 has about 1.5x the mean, hour 8 about
        // 0.5x (2.99 after averaging the cosine over each hour). Over the first day those hours expect 15000 and 5000
        // requests (Poisson); the ratio's sd is 3 sqrt(1/15000 + 1/5000) = 0.049, so +-0.2 is 4 sd.
        var world = TestScenarios.World("stationary");
        var perHour = new int[24];
        foreach (var request in world.StartRun().Requests())
        {
            if (request.Time >= world.Start.AddDays(1))
            {
                break;
            }

            perHour[request.Time.Hour]++;
        }

        Assert.InRange(perHour[20] / (double)perHour[8], 2.8, 3.2);
    }

    [Fact]
    public void InteractionEffect_Drift_DiffersBetweenDay0AndDay7ByTheRandomWalkScale()
    {
        var world = TestScenarios.World("drift");
        var (sumSq, cells) = SquaredDifference(world, world.Start, world.Start.AddDays(7));

        // Each cell moved by a sum of 7 N(0, 0.15^2) steps: sd 0.15 sqrt(7) = 0.397. The mean square over n = 768
        // cells, divided by that variance, is chi2_n / n with sd sqrt(2 / n) = 0.051; [0.64, 1.44] is over 7 sd.
        Assert.Equal(768, cells);
        var ratio = sumSq / cells / (0.15 * 0.15 * 7);
        Assert.InRange(ratio, 0.64, 1.44);
    }

    [Fact]
    public void InteractionEffect_Drift_InterpolatesLinearlyWithinADay()
    {
        var world = TestScenarios.World("drift");
        var d3 = world.InteractionEffect(Interaction.InterestCategory, 2, 5, world.Start.AddDays(3));
        var d4 = world.InteractionEffect(Interaction.InterestCategory, 2, 5, world.Start.AddDays(4));
        var mid = world.InteractionEffect(Interaction.InterestCategory, 2, 5, world.Start.AddDays(3.5));
        Assert.Equal((d3 + d4) / 2, mid, 12);
    }

    [Fact]
    public void InteractionEffect_Stationary_IsIdenticalAtDay0AndDay7()
    {
        var world = TestScenarios.World("stationary");
        var (sumSq, _) = SquaredDifference(world, world.Start, world.Start.AddDays(7));
        Assert.Equal(0.0, sumSq);
    }

    [Fact]
    public void TrueLogit_Shock_ShiftsByLogitShiftPlusPerturbationWhileActiveOnly()
    {
        var world = TestScenarios.World("shock");
        var shock = world.Scenario.Shock!;
        var before = shock.At.AddTicks(-1);
        var after = shock.At;
        var over = shock.At.AddHours(shock.DurationHours);
        var n = 0;
        double meanBefore = 0, meanAfter = 0;
        foreach (var impression in world.StartRun().Impressions())
        {
            var r = impression.Request;
            var user = world.Users[r.UserIndex];
            var category = world.Campaigns[world.Ads[impression.AdIndex].CampaignIndex].Category;
            var lBefore = world.TrueLogit(r.UserIndex, r.Context, impression.AdIndex, before);
            var lAfter = world.TrueLogit(r.UserIndex, r.Context, impression.AdIndex, after);
            var lOver = world.TrueLogit(r.UserIndex, r.Context, impression.AdIndex, over);
            var delta = world.InteractionEffect(Interaction.InterestCategory, user.Interest, category, after)
                - world.InteractionEffect(Interaction.InterestCategory, user.Interest, category, before);

            // The shock scenario has no drift: the logit changes by exactly the shift plus the perturbation, and
            // returns to its old value when the shock ends.
            Assert.Equal(lBefore + shock.LogitShift + delta, lAfter, 9);
            Assert.Equal(lBefore, lOver);
            meanBefore += AdWorld.Sigmoid(lBefore);
            meanAfter += AdWorld.Sigmoid(lAfter);
            if (++n == 20_000)
            {
                break;
            }
        }

        // For small p, a logit shift of 0.7 multiplies p by about e^0.7 = 2.0, and the zero-mean perturbation only
        // adds (convexity); 1.5 leaves room for the saturation of the larger p.
        Assert.True(meanAfter > 1.5 * meanBefore, $"mean true CTR {meanBefore / n} before, {meanAfter / n} after");
    }

    [Fact]
    public void Impressions_Shock_MeanTrueCtrRisesAfterTheShockTime()
    {
        var world = TestScenarios.World("shock");
        var at = world.Scenario.Shock!.At;
        double sumBefore = 0, sumAfter = 0;
        long nBefore = 0, nAfter = 0;
        foreach (var impression in world.StartRun().Impressions())
        {
            if (impression.Time >= at.AddDays(1))
            {
                break;
            }

            if (impression.Time >= at)
            {
                sumAfter += impression.TrueProbability;
                nAfter++;
            }
            else if (impression.Time >= at.AddDays(-1))
            {
                sumBefore += impression.TrueProbability;
                nBefore++;
            }
        }

        // Same hours of day on both sides (24 h each), so only the shock differs; see the test above for 1.5.
        Assert.InRange(nBefore, 200_000, 280_000);
        Assert.InRange(nAfter, 200_000, 280_000);
        Assert.True(sumAfter / nAfter > 1.5 * (sumBefore / nBefore));
    }

    [Fact]
    public void Campaigns_ColdStart_KeepLaunchingAfterStart()
    {
        var world = TestScenarios.World("cold-start");
        var launched = 0;
        var endedInside = 0;
        foreach (var campaign in world.Campaigns)
        {
            launched += campaign.Start > world.Start ? 1 : 0;
            endedInside += campaign.End < world.End ? 1 : 0;
            Assert.True(campaign.End > campaign.Start);
        }

        // Launch count ~ Poisson(20 per day * 21 days = 420): sd 20.5, 4 sd = 82.
        Assert.InRange(launched, 420 - 82, 420 + 82);

        // Lifetimes are at most 7.5 days in a 21-day world: every initial campaign ends inside it.
        Assert.True(endedInside >= world.Scenario.Campaigns);
        Assert.True(world.Advertisers.Count > world.Scenario.Advertisers);
    }

    [Fact]
    public void Impressions_ColdStart_ShowCampaignsLaunchedAfterStart()
    {
        var world = TestScenarios.World("cold-start");
        var n = 0;
        var fromNew = 0;
        foreach (var impression in world.StartRun().Impressions())
        {
            var campaign = world.Campaigns[world.Ads[impression.AdIndex].CampaignIndex];
            Assert.True(campaign.IsLive(impression.Time));
            fromNew += campaign.Start > world.Start ? 1 : 0;
            if (++n == 300_000)
            {
                break;
            }
        }

        // 300k impressions span over a day, by which time about 20 new campaigns (of about 110 live) run.
        Assert.True(fromNew > 0);
    }

    [Fact]
    public void Impressions_ColdStartBudgets_PausedCampaignsGetNoImpressions()
    {
        var world = TestScenarios.World("cold-start");
        var spent = new double[world.Campaigns.Count];
        var day = 0L;
        var n = 0;
        foreach (var impression in world.StartRun().Impressions())
        {
            var d = (impression.Time - world.Start).Ticks / TimeSpan.TicksPerDay;
            if (d != day)
            {
                Array.Clear(spent);
                day = d;
            }

            var campaign = world.Campaigns[world.Ads[impression.AdIndex].CampaignIndex];
            Assert.True(spent[campaign.Index] < campaign.DailyBudget, "an exhausted campaign was shown");
            if (impression.Clicked)
            {
                spent[campaign.Index] += campaign.Bid;
            }

            if (++n == 300_000)
            {
                break;
            }
        }
    }

    [Fact]
    public void Impressions_DelayedClicks_FractionBeyondWindowMatchesLogNormalTail()
    {
        var world = TestScenarios.World("delayed-clicks");
        var delay = world.Scenario.ClickDelay!;
        long clicks = 0, late = 0;
        var n = 0;
        foreach (var impression in world.StartRun().Impressions())
        {
            if (impression.Clicked)
            {
                clicks++;
                Assert.True(impression.ClickDelaySeconds > 0);
                late += impression.ClickDelaySeconds > delay.AttributionWindowSeconds ? 1 : 0;
            }
            else
            {
                Assert.Equal(0.0, impression.ClickDelaySeconds);
            }

            if (++n == 200_000)
            {
                break;
            }
        }

        // P(D > w) = 1 - Phi((ln w - mu) / sigma) (about 0.16 here); late ~ Binomial(clicks, q), 4 sd bound.
        var q = 1 - TestScenarios.NormalCdf((Math.Log(delay.AttributionWindowSeconds) - delay.Mu) / delay.Sigma);
        Assert.InRange(q, 0.15, 0.17);
        var sd = Math.Sqrt(clicks * q * (1 - q));
        Assert.InRange(late, (clicks * q) - (4 * sd), (clicks * q) + (4 * sd));
    }

    [Fact]
    public void Examples_Imbalanced_CtrNearTwoPerMilleAndNegativesWeightedByInverseRate()
    {
        var world = TestScenarios.World("imbalanced");
        var rate = world.Scenario.NegativeDownsampling;
        var end = world.Start.AddDays(1);
        long keptNegatives = 0;
        double weightSum = 0, weightedTrue = 0;
        foreach (var example in world.Examples())
        {
            if (example.Timestamp >= end)
            {
                break;
            }

            Assert.Equal(example.Label == 1 ? 1.0 : 1.0 / rate, example.Weight);
            keptNegatives += 1 - example.Label;
            weightSum += example.Weight;
            weightedTrue += example.Weight * example.TrueCtr;
        }

        long negatives = 0;
        double trueSum = 0;
        long impressions = 0;
        foreach (var impression in world.StartRun().Impressions())
        {
            if (impression.Time >= end)
            {
                break;
            }

            negatives += impression.Clicked ? 0 : 1;
            trueSum += impression.TrueProbability;
            impressions++;
        }

        // The scenario is designed for a CTR of 0.2 %; a full day averages the daily cycle. +-25 % allows for the
        // random effects of one seed (the mean over 2.4 million impressions has negligible sampling noise).
        Assert.InRange(trueSum / impressions, 0.0015, 0.0025);

        // Kept negatives ~ Binomial(negatives, r): 4 sd bound.
        var sd = Math.Sqrt(negatives * rate * (1 - rate));
        Assert.InRange(keptNegatives, (negatives * rate) - (4 * sd), (negatives * rate) + (4 * sd));

        // The weighted examples estimate the same mean true CTR as the full stream; the relative error of the
        // weighted estimate is about sqrt((1 - r) / (r * negatives)) = 0.3 %, so 3 % is a wide bound.
        Assert.InRange(weightedTrue / weightSum / (trueSum / impressions), 0.97, 1.03);
    }

    private static (double SumSq, int Cells) SquaredDifference(AdWorld world, DateTime a, DateTime b)
    {
        var sumSq = 0.0;
        var cells = 0;
        foreach (var table in Tables)
        {
            var (rows, columns) = world.InteractionShape(table);
            for (var r = 0; r < rows; r++)
            {
                for (var c = 0; c < columns; c++)
                {
                    var d = world.InteractionEffect(table, r, c, b) - world.InteractionEffect(table, r, c, a);
                    sumSq += d * d;
                    cells++;
                }
            }
        }

        return (sumSq, cells);
    }
}
