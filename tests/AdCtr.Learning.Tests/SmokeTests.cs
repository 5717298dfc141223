namespace AdCtr.Learning.Tests;

public class SmokeTests
{
    [Fact]
    public void Assembly_Loads_HasName()
    {
        Assert.Equal("AdCtr.Learning", typeof(SmokeTests).Assembly.GetName().Name!.Replace(".Tests", "", StringComparison.Ordinal));
    }
}
