namespace Presence.Core.Tests;

/// <summary>
/// Shared by the model-based tests: remembers the shortest scenario that failed while CsCheck samples (possibly on several
/// threads), so that it can be cut down and reported step by step.
/// </summary>
internal sealed class ShortestFailure<TScenario>(Func<TScenario, int> length)
    where TScenario : class
{
    private readonly Lock _gate = new();

    public TScenario? Scenario { get; private set; }

    /// <summary>Plays a scenario; a model mismatch is noted, then rethrown for CsCheck to shrink.</summary>
    public void Run(TScenario scenario, Action<TScenario> play)
    {
        try
        {
            play(scenario);
        }
        catch (Core.ModelMismatchException)
        {
            Note(scenario);
            throw;
        }
    }

    /// <inheritdoc cref="Run"/>
    public async Task RunAsync(TScenario scenario, Func<TScenario, Task> play)
    {
        try
        {
            await play(scenario);
        }
        catch (Core.ModelMismatchException)
        {
            Note(scenario);
            throw;
        }
    }

    private void Note(TScenario scenario)
    {
        lock (_gate)
        {
            if (Scenario is null || length(scenario) < length(Scenario))
            {
                Scenario = scenario;
            }
        }
    }
}

/// <summary>Cuts a failing scenario down: removes steps, one at a time, while it still fails, until every step matters.</summary>
internal static class StepRemoval
{
    public static TScenario Minimize<TScenario, TOp>(TScenario failing, Func<TScenario, TOp[]> ops, Func<TScenario, TOp[], TScenario> with, Func<TScenario, bool> fails)
    {
        for (bool removed = true; removed;)
        {
            removed = false;
            for (int i = ops(failing).Length - 1; i >= 0 && ops(failing).Length > 1; i--)
            {
                var shorter = Without(failing, i, ops, with);
                if (fails(shorter))
                {
                    failing = shorter;
                    removed = true;
                }
            }
        }

        return failing;
    }

    public static async Task<TScenario> MinimizeAsync<TScenario, TOp>(TScenario failing, Func<TScenario, TOp[]> ops, Func<TScenario, TOp[], TScenario> with, Func<TScenario, Task<bool>> fails)
    {
        for (bool removed = true; removed;)
        {
            removed = false;
            for (int i = ops(failing).Length - 1; i >= 0 && ops(failing).Length > 1; i--)
            {
                var shorter = Without(failing, i, ops, with);
                if (await fails(shorter))
                {
                    failing = shorter;
                    removed = true;
                }
            }
        }

        return failing;
    }

    private static TScenario Without<TScenario, TOp>(TScenario scenario, int step, Func<TScenario, TOp[]> ops, Func<TScenario, TOp[], TScenario> with)
    {
        var all = ops(scenario);
        return with(scenario, [.. all[..step], .. all[(step + 1)..]]);
    }
}
