using AdCtr.LoadTests.Engine;

namespace AdCtr.LoadTests.Tests;

public class StepSearchTests
{
    private static StepStats Step(double rate, double p99, double errorRate, int count = 1000) => new()
    {
        Phase = "step",
        Simulation = "Inject",
        OfferedRate = rate,
        DurationSeconds = 10,
        Requests = count,
        AchievedRate = rate,
        Errors = (int)(errorRate * count),
        ErrorRate = errorRate,
        ErrorsByKind = new Dictionary<string, int>(),
        Latency = new LatencySummary(count, 1, 1, 2, p99, p99, p99),
        Service = LatencySummary.Empty,
        SendLag = LatencySummary.Empty,
    };

    [Fact]
    public void MaxPassingRate_LatencyFailsAtTheFourthStep_PicksTheThird()
    {
        StepStats[] steps = [Step(500, 2, 0), Step(1000, 4, 0), Step(2000, 9.9, 0), Step(4000, 35, 0), Step(8000, 3, 0)];

        // The fifth step passes again but comes after a failure: the search stops at the first failure.
        Assert.Equal(2000, StepSearch.MaxPassingRate(steps, SloCriteria.Default));
        Assert.Equal(2, StepSearch.LastPassingIndex(steps, SloCriteria.Default));
    }

    [Fact]
    public void MaxPassingRate_ErrorsAtExactlyTheLimit_Fails()
    {
        // "fewer than 0.1 % errors": 1 error in 1000 requests is 0.1 %, not fewer.
        StepStats[] steps = [Step(500, 2, 0.0005), Step(1000, 2, 0.001)];

        Assert.Equal(500, StepSearch.MaxPassingRate(steps, SloCriteria.Default));
    }

    [Fact]
    public void MaxPassingRate_P99ExactlyAtTheSlo_Passes()
    {
        // The step fails only when p99 is above the SLO.
        StepStats[] steps = [Step(500, 10, 0), Step(1000, 10.0001, 0)];

        Assert.Equal(500, StepSearch.MaxPassingRate(steps, SloCriteria.Default));
    }

    [Fact]
    public void MaxPassingRate_FirstStepFails_IsNull()
    {
        StepStats[] steps = [Step(500, 12, 0), Step(1000, 2, 0)];

        Assert.Null(StepSearch.MaxPassingRate(steps, SloCriteria.Default));
    }

    [Fact]
    public void MaxPassingRate_AllPass_IsTheLastRate()
    {
        StepStats[] steps = [Step(500, 1, 0), Step(1000, 1, 0), Step(1500, 1, 0)];

        Assert.Equal(1500, StepSearch.MaxPassingRate(steps, new SloCriteria(5, 0.01)));
    }

    [Fact]
    public void Passes_NoSuccessfulRequests_Fails()
    {
        Assert.False(SloCriteria.Default.Passes(Step(500, double.NaN, 0, count: 0)));
    }

    [Theory]
    [InlineData(true, 0, 1, StepDecision.Next)]
    [InlineData(false, 0, 1, StepDecision.Retry)]
    [InlineData(false, 1, 1, StepDecision.Stop)]
    [InlineData(false, 0, 0, StepDecision.Stop)]
    [InlineData(true, 1, 1, StepDecision.Next)]
    public void Decide_AttemptAndRetries_RetriesOnlyFailuresWhileRetriesLeft(bool passed, int attempt, int retries, StepDecision expected)
    {
        Assert.Equal(expected, StepSearch.Decide(passed, attempt, retries));
    }
}
