namespace AdCtr.Simulator.Tests;

public class SmokeTests
{
    [Fact]
    public void Assembly_Loads_HasName()
    {
        Assert.Equal("AdCtr.Simulator", typeof(SmokeTests).Assembly.GetName().Name!.Replace(".Tests", "", StringComparison.Ordinal));
    }
}
