using AdCtr.Learning.Evaluation;
using AdCtr.Simulator.Drive;
using AdCtr.Simulator.Tests.World;
using AdCtr.Simulator.World;

namespace AdCtr.Simulator.Tests.Drive;

public sealed class DriveAccountingTests
{
    [Fact]
    public void ChooseByExpectedValue_Ties_PicksFirstOfTheLargest()
    {
        // Values 0.1, 0.3, 0.3, 0.2: the first 0.3 wins.
        Assert.Equal(1, DriveAccounting.ChooseByExpectedValue([1.0, 3.0, 1.5, 2.0], [0.1, 0.1, 0.2, 0.1]));
    }

    [Fact]
    public void Record_RankerGivenTheTruth_RegretIsExactlyZero()
    {
        // 500 requests of the stationary world with their real bids and true probabilities: ranking by the truth
        // picks the oracle's ad every time, so both expected revenues add the same terms in the same order.
        var world = TestScenarios.World("stationary", seed: 3);
        var accounting = new DriveAccounting();
        var n = 0;
        foreach (var request in world.StartRun().Requests())
        {
            var (bids, truth) = BidsAndTruth(world, request);
            accounting.Record(bids, truth, truth, DriveAccounting.ChooseByExpectedValue(bids, truth), clicked: n % 50 == 0);
            if (++n == 500)
            {
                break;
            }
        }

        var q = accounting.Summarise();
        Assert.Equal(500, q.Impressions);
        Assert.Equal(0.0, q.Regret);
        Assert.Equal(500, q.OracleAgreements);
        Assert.Equal(q.OracleExpectedRevenue, q.ExpectedRevenue);

        // Predictions equal to the truth: calibration against it is 1 (same sum, up to rounding of the division),
        // the expected log loss is the entropy (same terms, summed in another order), and MAE is 0.
        Assert.Equal(1.0, q.CalibrationVsTruth, 12);
        Assert.Equal(q.OracleExpectedLogLoss, q.ExpectedLogLoss, 12);
        Assert.Equal(q.OracleLogLoss, q.LogLoss, 12);
        Assert.Equal(0.0, q.MeanAbsoluteError);
    }

    [Fact]
    public void Record_RankerPreferringTheWorstAd_RegretIsPositiveAndExact()
    {
        // A ranker with predictions 1 - truth tends to pick the worst ad. Regret is the sum over requests of
        // max(bid x truth) - bid x truth of the chosen ad, recomputed here independently of the class.
        var world = TestScenarios.World("stationary", seed: 3);
        var accounting = new DriveAccounting();
        var expected = 0.0;
        var n = 0;
        foreach (var request in world.StartRun().Requests())
        {
            var (bids, truth) = BidsAndTruth(world, request);
            var bad = new double[truth.Length];
            var best = 0.0;
            for (var i = 0; i < truth.Length; i++)
            {
                bad[i] = 1 - truth[i];
                best = Math.Max(best, bids[i] * truth[i]);
            }

            var shown = DriveAccounting.ChooseByExpectedValue(bids, bad);
            expected += best - (bids[shown] * truth[shown]);
            accounting.Record(bids, bad, truth, shown, clicked: false);
            if (++n == 500)
            {
                break;
            }
        }

        var q = accounting.Summarise();
        Assert.True(q.Regret > 0, "regret " + q.Regret);
        Assert.True(q.OracleAgreements < 500, "agreements " + q.OracleAgreements);

        // Two sums of the same 500 terms in different groupings: equal up to rounding (|terms| < 2 * 1, 500 of them).
        Assert.Equal(expected, q.Regret, 1e-12);
    }

    [Fact]
    public void Record_TwoCandidates_RevenueAndRegretAreTheHandComputedValues()
    {
        // Values: truth 1 x 0.1 = 0.1 vs 2 x 0.02 = 0.04, so the oracle shows ad 0; predictions rank ad 1 first
        // (2 x 0.5 = 1 > 0.01): regret 0.1 - 0.04 = 0.06; a click pays ad 1's bid, 2.
        var accounting = new DriveAccounting();
        double[] bids = [1.0, 2.0];
        double[] predicted = [0.01, 0.5];
        double[] truth = [0.1, 0.02];
        var shown = DriveAccounting.ChooseByExpectedValue(bids, predicted);
        Assert.Equal(1, shown);
        accounting.Record(bids, predicted, truth, shown, clicked: true);
        var q = accounting.Summarise();
        Assert.Equal(0.06, q.Regret, 15);
        Assert.Equal(2.0, q.Revenue);
        Assert.Equal(0.04, q.ExpectedRevenue);
        Assert.Equal(0.1, q.OracleExpectedRevenue);
        Assert.Equal(0, q.OracleAgreements);

        // Calibration: 0.5 / 0.02 = 25 against the truth, 0.5 / 1 click against the clicks.
        Assert.Equal(25.0, q.CalibrationVsTruth, 12);
        Assert.Equal(0.5, q.CalibrationVsClicks, 15);

        // Expected log loss: -(0.02 ln 0.5 + 0.98 ln 0.5) = ln 2.
        Assert.Equal(Math.Log(2), q.ExpectedLogLoss, 15);
        Assert.Equal(LogLoss.Entropy(0.02), q.OracleExpectedLogLoss, 15);
    }

    private static (double[] Bids, double[] Truth) BidsAndTruth(AdWorld world, SimRequest request)
    {
        var candidates = request.Candidates;
        var bids = new double[candidates.Length];
        var truth = new double[candidates.Length];
        for (var i = 0; i < candidates.Length; i++)
        {
            bids[i] = world.Campaigns[world.Ads[candidates[i]].CampaignIndex].Bid;
            truth[i] = ExampleRecord.ForCandidate(world, request, candidates[i]).TrueCtr;
        }

        return (bids, truth);
    }
}
