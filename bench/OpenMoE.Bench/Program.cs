using OpenMoE.Bench.Checkpoints;

return args is ["checkpoint", .. var rest] ? CheckpointBench.Run(rest) : 0;
