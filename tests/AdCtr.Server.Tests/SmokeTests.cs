namespace AdCtr.Server.Tests;

public class SmokeTests
{
    [Fact]
    public void Assembly_Loads_HasName()
    {
        Assert.Equal("AdCtr.Server", typeof(SmokeTests).Assembly.GetName().Name!.Replace(".Tests", "", StringComparison.Ordinal));
    }
}
