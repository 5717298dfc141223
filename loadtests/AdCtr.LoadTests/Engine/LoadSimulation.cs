namespace AdCtr.LoadTests.Engine;

/// <summary>
/// A load stage, named and shaped like NBomber's load simulations: <see cref="Inject"/> and
/// <see cref="RampingInject"/> are the open model (requests arrive at a rate whatever the server does),
/// <see cref="KeepConstant"/> the closed model (a fixed number of users, each waiting for its response).
/// </summary>
public abstract record LoadSimulation(TimeSpan During)
{
    /// <summary>The offered load in requests per second, for reports (the end rate of a ramp; 0 for the closed model).</summary>
    public abstract double OfferedRatePerSecond { get; }
}

public sealed record Inject(int Rate, TimeSpan Interval, TimeSpan During) : LoadSimulation(During)
{
    public override double OfferedRatePerSecond => Rate / Interval.TotalSeconds;
}

public sealed record RampingInject(int FromRate, int Rate, TimeSpan Interval, TimeSpan During) : LoadSimulation(During)
{
    public override double OfferedRatePerSecond => Rate / Interval.TotalSeconds;
}

public sealed record KeepConstant(int Copies, TimeSpan During) : LoadSimulation(During)
{
    public override double OfferedRatePerSecond => 0;
}

/// <summary>The load simulations by NBomber's names: <c>Simulation.Inject(rate, interval, during)</c> and so on.</summary>
public static class Simulation
{
    /// <summary><paramref name="rate"/> requests every <paramref name="interval"/>, evenly spaced, for <paramref name="during"/>.</summary>
    public static Inject Inject(int rate, TimeSpan interval, TimeSpan during) => new(rate, interval, during);

    /// <summary>A rate that changes linearly from <paramref name="fromRate"/> to <paramref name="rate"/> over <paramref name="during"/>.</summary>
    public static RampingInject RampingInject(int fromRate, int rate, TimeSpan interval, TimeSpan during) => new(fromRate, rate, interval, during);

    /// <summary><paramref name="copies"/> concurrent users in closed loops for <paramref name="during"/>.</summary>
    public static KeepConstant KeepConstant(int copies, TimeSpan during) => new(copies, during);
}
