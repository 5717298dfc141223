namespace AdCtr.LoadTests.Engine;

/// <summary>The pass criteria of a step: p99 latency at most the SLO and an error rate below the limit.</summary>
public readonly record struct SloCriteria(double P99Ms, double MaxErrorRate)
{
    /// <summary>The defaults: p99 &lt;= 10 ms, errors &lt; 0.1 %.</summary>
    public static SloCriteria Default => new(10, 0.001);

    /// <summary>
    /// A step passes when it had successful requests, its p99 is not above the SLO and its error rate is strictly
    /// below the limit ("fewer than 0.1 % errors").
    /// </summary>
    public bool Passes(StepStats step)
    {
        ArgumentNullException.ThrowIfNull(step);
        return step.Latency.Count > 0 && step.Latency.P99 <= P99Ms && step.ErrorRate < MaxErrorRate;
    }
}

/// <summary>Finds the highest sustainable rate from steps of increasing load.</summary>
public static class StepSearch
{
    /// <summary>
    /// Index of the last passing step before the first failing one (steps in the order run, rates increasing), or
    /// -1 when the first step already fails. A pass after a failure is not trusted: the search stops at the first failure.
    /// </summary>
    public static int LastPassingIndex(IReadOnlyList<StepStats> steps, SloCriteria criteria)
    {
        ArgumentNullException.ThrowIfNull(steps);
        var last = -1;
        for (var i = 0; i < steps.Count; i++)
        {
            if (!criteria.Passes(steps[i]))
            {
                break;
            }

            last = i;
        }

        return last;
    }

    /// <summary>The offered rate (open model) of the highest passing step, or null when none passed.</summary>
    public static double? MaxPassingRate(IReadOnlyList<StepStats> steps, SloCriteria criteria)
    {
        var i = LastPassingIndex(steps, criteria);
        return i < 0 ? null : steps[i].Copies is null ? steps[i].OfferedRate : steps[i].AchievedRate;
    }

    /// <summary>
    /// What to do after attempt <paramref name="attempt"/> (0-based) of a step: go on when it passed, run it again
    /// while retries are left, else stop the search at this step.
    /// </summary>
    public static StepDecision Decide(bool passed, int attempt, int retries) =>
        passed ? StepDecision.Next : attempt < retries ? StepDecision.Retry : StepDecision.Stop;
}

public enum StepDecision
{
    Next,
    Retry,
    Stop,
}
