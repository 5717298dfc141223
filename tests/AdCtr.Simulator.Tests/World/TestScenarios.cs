using AdCtr.Simulator.World;

namespace AdCtr.Simulator.Tests.World;

/// <summary>Helpers shared by the world tests (stateless).</summary>
internal static class TestScenarios
{
    public static readonly string[] Shipped = ["stationary", "drift", "shock", "cold-start", "delayed-clicks", "imbalanced"];

    public static ScenarioDefinition Load(string name) =>
        ScenarioCatalog.LoadFile(Path.Combine(AppContext.BaseDirectory, "config", "scenarios", name + ".json"));

    public static AdWorld World(string name, ulong seed = 1) => AdWorld.Create(Load(name), seed);

    /// <summary>Standard normal CDF via erfc (Abramowitz and Stegun 7.1.26, absolute error below 1.5e-7).</summary>
    public static double NormalCdf(double z)
    {
        var x = Math.Abs(z) / Math.Sqrt(2);
        var t = 1 / (1 + (0.3275911 * x));
        var poly = t * (0.254829592 + (t * (-0.284496736 + (t * (1.421413741 + (t * (-1.453152027 + (t * 1.061405429))))))));
        var erfc = poly * Math.Exp(-x * x);
        return z >= 0 ? 1 - (erfc / 2) : erfc / 2;
    }

    public static byte[] WriteExamples(AdWorld world, int count, ExampleFormat format)
    {
        using var memory = new MemoryStream();
        using (var writer = ExampleWriter.Create(memory, format, ownsStream: false))
        {
            var n = 0;
            foreach (var example in world.Examples())
            {
                writer.Write(example);
                if (++n == count)
                {
                    break;
                }
            }
        }

        return memory.ToArray();
    }
}
