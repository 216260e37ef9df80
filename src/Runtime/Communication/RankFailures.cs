namespace OpenMoE.Runtime.Communication;

/// <summary>
/// How one rank's failure stops the job: the rank that raises prints one line naming itself and the
/// cause, then aborts every rank (MPI_Abort), so no peer waits forever in a collective it will never
/// complete. A rank killed outright is MPICH's process manager's to stop: mpiexec ends the other
/// ranks and reports the dead one (docs/parallelism.md, Faults).
/// </summary>
public static class RankFailures
{
    /// <summary>
    /// Runs <paramref name="body"/>; an exception on a job of more than one rank becomes
    /// <c>error: rank R of P: message</c> on stderr and the abort of every rank with exit code 1.
    /// On one rank the exception propagates (the caller reports it as usual).
    /// </summary>
    public static int Run(ICommunicator communicator, Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (communicator.Size > 1)
        {
            communicator.Abort(1, $"error: rank {communicator.Rank} of {communicator.Size}: {e.Message}");
            throw;
        }
    }
}
