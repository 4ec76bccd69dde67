#!/usr/bin/python3
"""Prints torch 1.13 OneCycleLR lr/momentum at selected steps for the ResNet zoos; the values are
copied into tests/test_onecycle.c."""
import torch
for (mx,T,spe) in [(0.05,7850,157),(0.1,18780,313)]:
    m=torch.nn.Linear(2,2); o=torch.optim.SGD(m.parameters(),lr=mx,momentum=0.9)
    s=torch.optim.lr_scheduler.OneCycleLR(o,max_lr=mx,epochs=T//spe,steps_per_epoch=spe)
    out=[]
    for k in range(T):
        if k in (0,1,100,2354,2355,5633,7849,18779,T-1): out.append((k,o.param_groups[0]['lr'],o.param_groups[0]['momentum']))
        o.step(); s.step()
    print(mx,T,out)
