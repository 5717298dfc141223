namespace AdCtr.Grains.Tests;

public class SmokeTests
{
    [Fact]
    public void Assembly_Loads_HasName()
    {
        Assert.Equal("AdCtr.Grains", typeof(SmokeTests).Assembly.GetName().Name!.Replace(".Tests", "", StringComparison.Ordinal));
    }
}
